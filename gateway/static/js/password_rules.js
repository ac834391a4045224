// Ticks off the seed's password rules as the user types. The auth service checks them (and
// refuses well-known leaked passwords); this only helps before the form is sent.
"use strict";
(function () {
  const list = document.getElementById("password-rules");
  const input = list && document.getElementById(list.dataset.for);
  if (!input) return;
  const rules = {
    length: (p) => [...p].length >= 12,
    spaces: (p) => p.length > 0 && !/\s/.test(p),
    upper: (p) => /\p{Lu}/u.test(p),
    lower: (p) => /\p{Ll}/u.test(p),
    digit: (p) => /\p{Nd}/u.test(p),
    symbol: (p) => /[^\p{L}\p{Nd}\s]/u.test(p),
  };
  function update() {
    for (const item of list.querySelectorAll("[data-rule]")) {
      const met = rules[item.dataset.rule](input.value);
      item.classList.toggle("met", met);
      item.querySelector(".state").textContent = met ? list.dataset.met : list.dataset.unmet;
    }
  }
  list.hidden = false;
  input.addEventListener("input", update);
  update();
})();
