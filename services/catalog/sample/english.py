"""The English versions of the sample articles, written for this project from the French seed
pages (a short title, a summary and a few paragraphs, faithful to the French; no quotation
marks: the speakers' exact English words are not in the seeds). Keyed on the seed file's name;
a seed missing here is imported in French only."""

ENGLISH = {
    "000_9357988c91d7e8a6": {
        "title": "NATO Foreign Ministers meet in Brussels ahead of the London meeting",
        "summary": (
            "On Wednesday 20 November 2019, NATO Foreign Ministers met in Brussels to address "
            "a broad range of security challenges ahead of the meeting of NATO Leaders in "
            "London. They agreed to recognise space as an operational domain."),
        "body": [
            "NATO Foreign Ministers met in Brussels on Wednesday 20 November 2019 to address a "
            "broad range of security challenges in preparation for the meeting of NATO Leaders "
            "in London. Secretary General Jens Stoltenberg said that all Allies agree that NATO "
            "remains indispensable to their security and that, despite their differences, they "
            "are stronger together.",
            "Ministers took important decisions to continue NATO's adaptation. They agreed to "
            "recognise space as an operational domain, alongside air, land, sea and cyber, so "
            "that NATO planners can ask Allies to provide capabilities and services such as "
            "satellite communication time. The Secretary General said NATO had no intention "
            "of deploying weapons in space and that its approach would remain fully in line "
            "with international law.",
            "Ministers also approved recommendations on NATO's role in energy security, "
            "discussed the fight against terrorism and progress in strengthening security in "
            "the Black Sea, and adopted a policy on preventing and responding to sexual "
            "exploitation and abuse. On fairer burden sharing, Mr Stoltenberg pointed to an "
            "unprecedented upward trend.",
            "Ministers were then to discuss NATO's coordinated approach to three strategic "
            "questions: relations with Russia, the rise of China and arms control.",
        ],
    },
    "001_8b7e7efd43443af4": {
        "title": "NATO Defence Ministers conclude two days of talks in Brussels",
        "summary": (
            "NATO Defence Ministers concluded two days of talks in Brussels on Thursday "
            "4 October 2018 on further adapting and strengthening the Alliance in the face of "
            "an increasingly assertive Russia and continued instability to the south."),
        "body": [
            "NATO Defence Ministers concluded two days of talks in Brussels on Thursday "
            "4 October 2018 on further adapting and strengthening the Alliance in the face of "
            "an increasingly assertive Russia and continued instability to the south.",
            "Burden sharing was one of the themes of the meeting. Secretary General Jens "
            "Stoltenberg said the Alliance was making progress, with defence spending rising "
            "for the fourth consecutive year, and that he expected national plans to show real "
            "increases and a realistic path towards spending 2% of GDP on defence.",
            "Discussing NATO's strengthened deterrence and defence posture, ministers addressed "
            "concerns about Russia's behaviour and the future of the Intermediate-Range "
            "Nuclear Forces Treaty. They were briefed on a foiled cyber operation by Russian "
            "military intelligence against the Organisation for the Prohibition of Chemical "
            "Weapons in The Hague, and the Secretary General said NATO would keep "
            "strengthening its deterrence and defence in cyberspace.",
            "Ministers also discussed NATO's response to instability on its southern borders, "
            "including the new training mission in Iraq, and were joined by the EU High "
            "Representative, Federica Mogherini, and by representatives of Finland and Sweden "
            "to discuss NATO-EU cooperation.",
        ],
    },
    "002_c079bea3bb312987": {
        "title": "Allies seek smarter defence spending and closer cooperation",
        "summary": (
            "NATO Allies are actively seeking to improve their defence capabilities through "
            "smarter spending and closer cooperation, Secretary General Anders Fogh Rasmussen "
            "said on Tuesday as Defence Ministers met at NATO Headquarters."),
        "body": [
            "NATO Allies are actively seeking to improve their defence capabilities through "
            "smarter spending and closer cooperation, Secretary General Anders Fogh Rasmussen "
            "said on Tuesday. Defence Ministers meeting at NATO Headquarters reviewed their "
            "countries' progress in improving capabilities and providing security at a time "
            "of economic austerity.",
            "A first working session on Tuesday 9 October looked at the implementation of the "
            "decisions taken at the Chicago Summit in May, where NATO Heads of State and "
            "Government endorsed Smart Defence, under which countries work together to develop "
            "and maintain capabilities they could not afford alone, and approved more than "
            "twenty multinational projects.",
            "The Secretary General said all Allies, including European countries hit hard by "
            "the economic crisis, were committed to improving their capabilities. No decision "
            "was taken on Tuesday, but ministers made progress on intensifying multinational "
            "cooperation and on making better use of NATO common funding. They were to "
            "continue on Wednesday with NATO's missions in Afghanistan and Kosovo.",
        ],
    },
    "003_e5b3c6a5ee875e9e": {
        "title": "NATO Foreign Ministers take stock between The Hague and Ankara summits",
        "summary": (
            "NATO Foreign Ministers met in Brussels on Wednesday 3 December 2025, halfway "
            "between this year's summit in The Hague and the 2026 summit in Ankara. Secretary "
            "General Mark Rutte spoke of the continuing threat from Russia and of its war "
            "against Ukraine."),
        "body": [
            "NATO Foreign Ministers met in Brussels on Wednesday 3 December 2025 to take stock "
            "halfway between this year's summit in The Hague and the 2026 summit in Ankara. "
            "Secretary General Mark Rutte spoke of the continuing threat from Russia, of its "
            "war against Ukraine and of its reckless actions against Allies, including "
            "airspace violations and cyberattacks.",
            "Ministers stressed the need for strength and unity, and for a credible path for "
            "Allies to reach the goal of spending 5% of GDP on defence by 2035, with support "
            "to Ukraine counting towards it. Mr Rutte also spoke of reinforcing the forces on "
            "the eastern flank and of modernising their equipment.",
            "At the NATO-Ukraine Council, attended by the EU High Representative, Kaja Kallas, "
            "Ukraine's Foreign Minister Andrii Sybiha briefed Allies on the situation and on "
            "his country's urgent needs. The Secretary General welcomed President Trump's "
            "efforts towards a just peace and stressed the Alliance's unwavering support to "
            "Ukraine as winter sets in; new commitments under the Prioritised Ukraine "
            "Requirements List (PURL) were announced during the meeting.",
            "Ministers also discussed hybrid threats and reaffirmed the current priorities: "
            "investing more in defence, boosting production and continuing to support Ukraine. "
            "The Secretary General concluded that NATO remains a defensive Alliance, ready and "
            "determined to protect its people and keep them safe.",
        ],
    },
    "004_09f172dc38b08cd5": {
        "title": "NATO Defence Ministers meet for the first time since The Hague Summit",
        "summary": (
            "On Wednesday 15 October 2025, NATO Defence Ministers held their first meeting "
            "since The Hague Summit. After recent violations of Allied airspace by drones and "
            "fighter jets, they discussed strengthening NATO's deterrence and defence, "
            "including through Eastern Sentry."),
        "body": [
            "NATO Defence Ministers held their first meeting since The Hague Summit on "
            "Wednesday 15 October 2025. After recent violations of Allied airspace by drones "
            "and fighter jets, they discussed strengthening NATO's deterrence and defence "
            "posture, including through the Eastern Sentry initiative. Secretary General Mark "
            "Rutte stressed that NATO is and will remain a defensive alliance, but one ready "
            "and determined to do what it takes to protect its territory and the billion "
            "people who live there.",
            "Ministers focused on increasing defence investment and on innovation to adapt to "
            "emerging threats. In response to the recent incidents, they decided to strengthen "
            "NATO's counter-drone capabilities by testing integrated counter-drone systems "
            "within Eastern Sentry and by working with the European Union and the private "
            "sector to speed up innovation.",
            "Allies reaffirmed their unwavering support to Ukraine at a meeting of the "
            "NATO-Ukraine Council with Ukraine's Defence Minister, Denys Shmyhal, and the EU "
            "High Representative, Kaja Kallas, and later that afternoon at the Ukraine Defense "
            "Contact Group. With winter approaching and Russia still targeting civilian "
            "infrastructure, the Secretary General underlined how vital the Allies' "
            "contributions are.",
        ],
    },
}
