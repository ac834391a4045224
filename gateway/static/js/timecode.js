// SMPTE timecodes on a video's own clock: "HH:MM:SS:FF" (";" before the frames for drop-frame
// at 29.97 and 59.94), the same arithmetic as services/transcoder/media/timecode.py.
"use strict";
window.Timecode = (function () {
  function rate(text) {
    const [num, den] = String(text || "25/1").split("/").map(Number);
    const value = num / (den || 1);
    return { value: value, nominal: Math.round(value) };
  }

  function dropPerMinute(r) {
    return r.nominal === 30 ? 2 : r.nominal === 60 ? 4 : 0;
  }

  function toFrames(tc, r) {
    const match = /^(\d{2}):(\d{2}):(\d{2})([:;.])(\d{2})$/.exec(String(tc).trim());
    if (!match) return null;
    const [h, m, s, f] = [match[1], match[2], match[3], match[5]].map(Number);
    const drop = match[4] !== ":" ? dropPerMinute(r) : 0;
    const minutes = h * 60 + m;
    return (minutes * 60 + s) * r.nominal + f - drop * (minutes - Math.floor(minutes / 10));
  }

  function fromFrames(frames, r, dropFrame) {
    const drop = dropFrame ? dropPerMinute(r) : 0;
    if (drop) {
      const perTen = r.nominal * 600 - drop * 9;
      const perMinute = r.nominal * 60 - drop;
      const tens = Math.floor(frames / perTen);
      const rest = frames % perTen;
      frames += drop * 9 * tens + (rest > drop ? drop * Math.floor((rest - drop) / perMinute) : 0);
    }
    const pad = (n) => String(n).padStart(2, "0");
    const f = frames % r.nominal;
    const totalSeconds = Math.floor(frames / r.nominal);
    return [Math.floor(totalSeconds / 3600) % 24, Math.floor(totalSeconds / 60) % 60,
            totalSeconds % 60].map(pad).join(":") + (drop ? ";" : ":") + pad(f);
  }

  // The timecode of the frame shown `seconds` into a video that starts at `start`.
  function atSeconds(seconds, start, rateText) {
    const r = rate(rateText);
    const first = toFrames(start, r) || 0;
    const frame = Math.floor(seconds * r.value + 1e-6);
    return fromFrames(first + frame, r, /;/.test(start));
  }

  return { rate: rate, toFrames: toFrames, fromFrames: fromFrames, atSeconds: atSeconds };
})();
