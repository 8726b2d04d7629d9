/* sitescreen live re-weighting: sliders for the weights and verdict thresholds of a screening.
 *
 * Python (sitescreen/outputs/reweight.py) embeds each weighted criterion's suitabilities exactly
 * (float64) in the map's order, the run's effective weights and thresholds, and the run's profile
 * as a TOML template. This file rescores every site the way sitescreen/rules/scoring.py does:
 *   weights renormalised over the weighted criteria (w / Σw, summed in profile order),
 *   t = Σ (s missing ? 0 : s) · w,  verdict from 100·t (≥ favorable, ≥ review, else unfavorable),
 *   score = rint(100·t · 10⁴) / 10⁴ (numpy's round, half to even);
 * excluded and incomplete sites keep the run's verdict and score; a capped site's verdict is no better
 * than R.cap's code for it (varints, in R.verdicts' order; absent: no caps), as capped_codes does. The profile downloads as TOML with
 * the slider weights and thresholds, so `sitescreen screen --profile FILE` gives the same verdicts.
 * One controller (the model, the panel, the coalesced repaint) serves every page: the map binds it to
 * its sites layer (SS.reweightPanel, below), the report to its tables (sitescreen-reweight-report.js).
 * Every text from the data is set with textContent.
 */
(function () {
  'use strict';
  var SS = (window.sitescreen = window.sitescreen || {});
  var MIN_W = 0.001, FLOOR_W = 1e-4, STEP_T = 0.5;

  var decodeU = function (str, n) { return SS.decodeU(str, n); };  // the payload's varints (sitescreen-varint.js)
  /* An exact float column: {dict, idx} (0 = missing) or {f64: base64 little-endian}; missing is NaN. */
  function column(c, n) {
    var out = new Float64Array(n), i;
    if (c.dict) {
      var idx = decodeU(c.idx, n);
      for (i = 0; i < n; i++) out[i] = idx[i] ? c.dict[idx[i] - 1] : NaN;
      return out;
    }
    var bin = atob(c.f64), bytes = new Uint8Array(bin.length);
    for (i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var view = new DataView(bytes.buffer);
    for (i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
    return out;
  }
  /* numpy's rint: round half to even (y - floor(y) is exact for doubles). */
  function rint(y) {
    var f = Math.floor(y), d = y - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return f % 2 === 0 ? f : f + 1;
  }
  SS.reweightColumn = column;  // the report decodes its exact scores with it
  function Model(R, base) {
    var n = R.n, self = this;
    this.R = R; this.n = n;
    this.s = R.criteria.map(function (c) { return column(c.s, n); });
    this.code = {};
    R.verdicts.forEach(function (v, k) { self.code[v] = k; });
    this.baseVerdict = base.verdict.slice();
    this.baseScore = base.score.slice();
    this.cap = R.cap ? decodeU(R.cap, n) : null;
    this.w = R.criteria.map(function (c) { return c.w; });
    this.favorable = R.favorable; this.review = R.review;
  }
  /* Scores and verdict codes of every site for weights w (one per criterion) and thresholds. */
  Model.prototype.score = function (w, fav, rev) {
    var n = this.n, total = 0, k, i, C = this.code;
    for (k = 0; k < w.length; k++) total += w[k];
    var t = new Float64Array(n);
    for (k = 0; k < w.length; k++) {
      var s = this.s[k], e = total ? w[k] / total : 0;
      for (i = 0; i < n; i++) { var x = s[i]; t[i] += (x === x ? x : 0) * e; }
    }
    var verdict = new Uint8Array(n), score = new Float64Array(n), base = this.baseVerdict, cap = this.cap;
    var EX = C.excluded, IN = C.incomplete, FA = C.favorable, RE = C.review, UN = C.unfavorable;
    for (i = 0; i < n; i++) {
      var b = base[i];
      if (b === EX) { verdict[i] = EX; score[i] = 0; continue; }
      if (b === IN) { verdict[i] = IN; score[i] = NaN; continue; }
      var y = t[i] * 100;
      verdict[i] = y >= fav ? FA : (y >= rev ? RE : UN);
      if (cap && cap[i] > verdict[i]) verdict[i] = cap[i];
      score[i] = rint(y * 10000) / 10000;
    }
    return { verdict: verdict, score: score };
  };
  /* Move weight j to v; the others are rescaled proportionally so the weights still sum to 1. */
  Model.prototype.setWeight = function (j, v) {
    var w = this.w, k = w.length, i, rest = 0;
    if (k < 2) return;
    v = Math.min(Math.max(v, MIN_W), 1 - MIN_W);
    for (i = 0; i < k; i++) if (i !== j) rest += w[i];
    for (i = 0; i < k; i++) if (i !== j) w[i] = Math.max(w[i] * (1 - v) / rest, FLOOR_W);
    w[j] = v;
    var t = 0;
    for (i = 0; i < k; i++) t += w[i];
    if (t !== 1) for (i = 0; i < k; i++) w[i] /= t;
  };
  Model.prototype.setThreshold = function (which, v) {
    v = Math.min(Math.max(v, which === 'favorable' ? STEP_T : 0), which === 'favorable' ? 100 : 100 - STEP_T);
    if (which === 'favorable') { this.favorable = v; if (this.review >= v) this.review = v - STEP_T; }
    else { this.review = v; if (this.favorable <= v) this.favorable = v + STEP_T; }
  };
  /* The profile as TOML: the template's tokens replaced by the current numbers. */
  Model.prototype.toml = function () {
    var self = this, names = this.R.criteria.map(function (c) { return c.name; });
    return this.R.toml.split('\u0000').map(function (p, i) {
      if (!(i % 2)) return p;
      if (p === 'favorable') return String(self.favorable);
      if (p === 'review') return String(self.review);
      return String(self.w[names.indexOf(p.slice(2))]);
    }).join('');
  };

  /* The words of sitescreen/rules/wording.py for numbers the browser computes (the browser tests check
     them against Python's): score_text (one decimal), points_text (two), weight_text (4 significant). */
  var NOTHING = '\u2014';
  function fixed(x, d) {  // Python's f"{x:.{d}f}": the exact double rounded half to even
    var t = x.toFixed(d), full = x.toFixed(Math.min(100, d + 30)), cut = full.length - Math.min(100, d + 30) + d;
    if (/^50*$/.test(full.slice(cut)) && +full.charAt(cut - 1) % 2 === 0) {  // an exact tie, below it even
      t = full.slice(0, cut).replace(/\.$/, '');  // toFixed rounds a tie up; Python to the even digit
    }
    return t;
  }
  var words = SS.reweightWords = {
    score: function (s) { return s === s ? fixed(rint(s * 10) / 10, 1) : NOTHING; },
    points: function (p) { return p === p && p !== null ? fixed(p, 2) : NOTHING; },
    weight: function (w) { return w ? pct(w) : NOTHING; }
  };
  function pct(w) { return String(+(w * 100).toPrecision(4)) + ' %'; }

  function el(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function slider(parent, label, min, max, step, value, onInput) {
    var row = el('label', 'ss-rw-row', parent);
    el('span', 'ss-rw-label', row, label);
    var input = el('input', '', row), out = el('span', 'ss-rw-value', row);
    input.type = 'range'; input.min = min; input.max = max; input.step = step; input.value = value;
    input.setAttribute('aria-label', label);
    input.addEventListener('input', function () { onInput(parseFloat(input.value)); });
    return { input: input, out: out };
  }

  /* The panel: a slider per weight and per threshold, the counts, Reset and the TOML download. */
  function panelBox(RW) {
    var M = RW.model, box = el('div', 'ss-panel ss-reweight ss-rw-collapsed');
    var head = el('button', 'ss-rw-toggle', box, 'What if? Re-weight');
    head.type = 'button';
    var body = el('div', 'ss-rw-body', box);
    head.addEventListener('click', function () { box.classList.toggle('ss-rw-collapsed'); });
    el('div', 'ss-rw-h', body, 'Weights (sum to 100 %)');
    RW.weightSliders = M.R.criteria.map(function (c, j) {
      var sl = slider(body, c.label, 0, 1, 0.001, M.w[j], function (v) { M.setWeight(j, v); RW.apply(); });
      sl.input.name = 'w-' + c.name;
      if (M.w.length < 2) sl.input.disabled = true;
      return sl;
    });
    el('div', 'ss-rw-h', body, 'Verdict thresholds (score)');
    RW.thresholdSliders = ['favorable', 'review'].map(function (k) {
      var sl = slider(body, (k === 'favorable' ? 'Favorable ≥' : 'Review ≥'), 0, 100, STEP_T, M[k],
                      function (v) { M.setThreshold(k, v); RW.apply(); });
      sl.input.name = 't-' + k;
      return sl;
    });
    RW.countsBox = el('div', 'ss-rw-counts', body);
    var bar = el('div', 'ss-rw-bar', body);
    var reset = el('button', 'ss-rw-reset', bar, 'Reset');
    reset.type = 'button';
    reset.addEventListener('click', function () { RW.reset(); });
    var dl = el('button', 'ss-rw-download', bar, 'Download profile (TOML)');
    dl.type = 'button';
    if (M.R.toml) dl.addEventListener('click', function () { RW.download(); });
    else { dl.disabled = true; dl.title = 'Not available: ' + M.R.note; el('div', 'ss-rw-note', body, 'Download not available: ' + M.R.note); }
    el('div', 'ss-rw-note', body, 'Excluded and incomplete sites stay as the run computed them. ' +
      'Verdicts here are a what-if until screened again with the downloaded profile.');
    return box;
  }

  /* The what-if state of one page. ``view``: {ids, verdicts: [{label, color}], paint(r or null = as
     screened), shown()}. Repaints are coalesced to one per frame (slider drags). */
  function controller(R, base, view) {
    var M = new Model(R, base), RW = { model: M, ms: null, changed: 0, moved: false, pending: false, current: M.baseVerdict };
    RW.score = function (w, fav, rev) {  // for checks: verdict names and scores of every site
      var r = M.score(w, fav, rev);
      return { id: view.ids, verdict: Array.prototype.map.call(r.verdict, function (c) { return R.verdicts[c]; }),
               score: Array.prototype.slice.call(r.score) };
    };
    var next = null;
    function repaint(r) {
      next = r;
      if (RW.pending) return;
      RW.pending = true;
      requestAnimationFrame(function () {
        var t0 = performance.now();
        view.paint(next);
        RW.current = next ? next.verdict : M.baseVerdict;
        RW.drawMs = performance.now() - t0;
        RW.pending = false;
        RW.show();
        if (RW.onPainted) RW.onPainted();
      });
    }
    RW.apply = function () {
      var t0 = performance.now(), r = M.score(M.w, M.favorable, M.review), n = M.n, changed = 0;
      for (var i = 0; i < n; i++) if (r.verdict[i] !== M.baseVerdict[i]) changed++;
      RW.changed = changed; RW.moved = true;
      RW.ms = performance.now() - t0;
      repaint(r);
      return RW.ms;
    };
    RW.reset = function () {
      M.w = R.criteria.map(function (c) { return c.w; });
      M.favorable = R.favorable; M.review = R.review;
      RW.changed = 0; RW.moved = false;
      repaint(null);
    };
    RW.toml = function () { return M.toml(); };
    RW.download = function () {
      RW.apply();  // what the page shows is what the file gives
      var a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([M.toml()], { type: 'application/toml' }));
      a.download = R.file;
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
    };
    RW.effective = function () {  // the weights as shares of the score (one per criterion)
      var total = M.w.reduce(function (a, b) { return a + b; }, 0);
      return M.w.map(function (w) { return total ? w / total : 0; });
    };
    RW.show = function () {
      if (!RW.weightSliders) return;
      var e = RW.effective();
      RW.weightSliders.forEach(function (sl, j) { sl.input.value = M.w[j]; sl.out.textContent = pct(e[j]); });
      RW.thresholdSliders[0].input.value = M.favorable; RW.thresholdSliders[0].out.textContent = String(M.favorable);
      RW.thresholdSliders[1].input.value = M.review; RW.thresholdSliders[1].out.textContent = String(M.review);
      var counts = RW.counts();
      RW.countsBox.textContent = '';
      view.verdicts.forEach(function (v, k) {
        if (!counts[k]) return;
        var sp = el('span', 'ss-rw-count', RW.countsBox);
        el('span', 'ss-dot', sp).style.background = v.color;
        sp.appendChild(document.createTextNode(v.label + ' ' + counts[k].toLocaleString('en-US')));
      });
      el('div', 'ss-muted', RW.countsBox, RW.changed ? RW.changed.toLocaleString('en-US') + ' site(s) changed verdict' : 'as screened');
      if (view.shown) view.shown(e);
    };
    RW.counts = function () {
      var counts = R.verdicts.map(function () { return 0; }), v = RW.current;
      for (var i = 0; i < M.n; i++) counts[v[i]]++;
      return counts;
    };
    RW.box = panelBox(RW);
    return RW;
  }
  SS.reweightController = controller;
  SS.reweightRint = rint;

  /* The map: the sites layer (sitescreen-map.js) recoloured from the new verdicts and scores. */
  SS.reweightPanel = function (map, dataId) {
    var S = SS.sites, node = document.getElementById(dataId);
    if (!S || !node || !S.restyle) return null;
    var R = SS.readJSON(dataId);  // plain or packed (sitescreen-unpack.js)
    if (R.n !== S.D.n) return null;
    var weightText = S.meta.criteria.map(function (c) { return c.weight; }), RW;
    var names = R.criteria.map(function (c) { return c.name; });
    RW = SS.reweight = controller(R, S.D, {
      ids: S.D.id, verdicts: S.meta.verdicts,
      paint: function (r) {
        if (!r) { S.restyle(RW.model.baseVerdict, RW.model.baseScore); return; }
        var n = RW.model.n, enc = new Float64Array(n);
        for (var i = 0; i < n; i++) {
          var s = r.score[i];
          enc[i] = s === s ? Math.min(Math.max(rint(s * 10), 0), 1000) + 1 : 0;
        }
        S.restyle(r.verdict, enc);
      },
      shown: function (e) {
        S.meta.criteria.forEach(function (c, k) {  // the popup's effective weights follow the sliders
          var j = names.indexOf(c.name);
          c.weight = j < 0 || !RW.moved ? weightText[k] : pct(e[j]);
        });
      }
    });
    var Panel = L.Control.extend({
      options: { position: 'bottomleft' },
      onAdd: function () {
        L.DomEvent.disableClickPropagation(RW.box); L.DomEvent.disableScrollPropagation(RW.box);
        RW.show();
        return RW.box;
      }
    });
    RW.panel = new Panel().addTo(map);
    return RW;
  };
})();
