/* sitescreen live re-weighting in the review report: the controller of sitescreen-reweight.js bound
 * to the report's own elements. Python (sitescreen/outputs/reportreweight.py) gives the map's
 * re-weighting data in the report's ranked order, with the sites' verdicts and exact scores, the
 * sites of the breakdown cards, the verdicts' labels and colours, the criteria of a breakdown's rows
 * and the verdict meanings' templates.
 * A move recomputes every site's verdict and score (typed arrays, sitescreen-reweight.js), the summary
 * counts and meanings (exact, over all sites), the ranked table's order and a breakdown's effective
 * weights and points; the sections that cannot follow (charts, overview map, stability, roll-ups) are
 * marked as screened, and a banner (printed too) says the page is a what-if. Texts are set with
 * textContent.
 * Fast at scale: the page keeps every row and card Python wrote (so printing and find in page see
 * them all), but a move rewrites at once only the rows and cards in and near the viewport (one
 * viewport above and below, found by reading their positions before any write); the others are
 * stale until they scroll near, the sliders rest (RW.idleMs, then a frame's budget at a time) or the
 * page is printed (beforeprint: all of them, before the print layout). The table's rows are slots:
 * row k always shows rank k + 1, and takes the id, name and reasons cells of the site now ranked k
 * (copies of the cells Python wrote), so no row moves.
 */
(function () {
  'use strict';
  var SS = (window.sitescreen = window.sitescreen || {});
  var W = null;
  var COPY = [1, 2, 5];  // the cells of a ranked row that belong to its site: id (linked to its card), name, reasons
  var IDLE_MS = 400, BUDGET_MS = 10;

  function verdictCodes(str) {
    var v = new Uint8Array(str.length);
    for (var i = 0; i < str.length; i++) v[i] = str.charCodeAt(i) - 48;
    return v;
  }
  /* Text and colour set only where they change: a move re-lays out only what it changed. */
  function setText(node, t) { if (node.textContent !== t) node.textContent = t; }
  function setBadge(badge, v) { if (badge.dataset.v !== v.key) { badge.textContent = v.label; badge.style.background = v.color; badge.dataset.v = v.key; } }

  /* The report's elements: the ranked table's rows (slot k shows the site ranked k; data index k at
     first, the data being in the ranked table's order) and the breakdown cards (R.cards: their sites). */
  function collect(R) {
    var body = document.querySelector('#ranking table.ranked tbody');
    var trs = body ? body.rows : [];
    if (trs.length !== R.listed) return null;
    var slots = Array.prototype.map.call(trs, function (tr, k) {
      return { el: tr, k: k, site: k, gen: 0, badge: tr.cells[3].querySelector('.badge'), score: tr.cells[4] };
    });
    var arts = document.querySelectorAll('#sites article.site');
    if (arts.length !== R.cards.length) return null;
    var cards = Array.prototype.map.call(arts, function (a, k) {
      return { el: a, i: R.cards[k], gen: 0, badge: a.querySelector('header .badge'), score: a.querySelector('header .score'),
               rows: Array.prototype.slice.call(a.querySelectorAll('table.crit tbody tr')) };
    });
    var cardBoxes = Array.prototype.slice.call(document.querySelectorAll('#summary .cards .card')).map(function (box) {
      var what = box.querySelector('.muted');  // as screened: Python's words, put back on Reset
      return { num: box.querySelector('.num'), what: what, screened: what ? what.textContent : '' };
    });
    return { slots: slots, ids: slots.map(function (s) { return s.el.cells[1].textContent; }), cards: cards,
             cardBoxes: cardBoxes, src: null, gen: 0, order: null, job: 0, timer: 0, stale: 0 };
  }

  /* The listed sites best first, as report._ranked: by score (unscored last), then by id. */
  function ranking(E, score) {
    var ids = E.ids, order = E.slots.map(function (s) { return s.k; });
    return order.sort(function (a, b) {
      var x = score[a], y = score[b];
      x = x === x ? x : -1; y = y === y ? y : -1;
      if (x !== y) return y - x;
      return ids[a] < ids[b] ? -1 : (ids[a] > ids[b] ? 1 : 0);
    });
  }

  function fillSlot(E, slot) {
    var i = E.order ? E.order[slot.k] : slot.k, tr = slot.el;
    if (slot.site !== i) {
      if (!E.src) E.src = E.slots.map(function (s) { return COPY.map(function (c) { return s.el.cells[c].cloneNode(true); }); });
      COPY.forEach(function (c, j) { tr.replaceChild(E.src[i][j].cloneNode(true), tr.cells[c]); });
      slot.site = i;
    }
    setBadge(slot.badge, E.labels[E.verdict[i]]);
    setText(slot.score, SS.reweightWords.score(E.score[i]));
    slot.gen = E.gen;
  }

  function fillCard(E, card) {
    var i = card.i, e = E.e, words = SS.reweightWords, excluded = E.verdict[i] === E.EX;
    setBadge(card.badge, E.labels[E.verdict[i]]);
    setText(card.score, words.score(E.score[i]));
    card.rows.forEach(function (tr, j) {
      var k = W.rowCriterion[j];
      if (k < 0 || !tr.cells[4]) return;
      setText(tr.cells[3], words.weight(e[k]));
      var s = E.s[k][i];
      setText(tr.cells[4], excluded || s !== s || !e[k] ? words.points(NaN) : words.points(s * e[k] * 100));
    });
    card.gen = E.gen;
  }

  /* The first of ``els`` (in page order, one below the other) whose bottom is below y (viewport px). */
  function firstBelow(els, y) {
    var lo = 0, hi = els.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (els[mid].el.getBoundingClientRect().bottom < y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  /* The stale rows and cards in and near the viewport (read: layout only), then brought up to date (write). */
  function fillNear(E) {
    if (!E.stale) return;
    var h = window.innerHeight, near = [];
    [[E.slots, fillSlot], [E.cards, fillCard]].forEach(function (p) {
      for (var a = firstBelow(p[0], -h), b = firstBelow(p[0], 2 * h) + 1, k = a; k < Math.min(b, p[0].length); k++) {
        if (p[0][k].gen !== E.gen) near.push([p[1], p[0][k]]);
      }
    });
    near.forEach(function (q) { q[0](E, q[1]); });
    E.stale -= near.length;
  }
  /* Every stale row and card while ``more()`` (all of them without it); true when none is left. */
  function fillStale(E, more) {
    var lists = [[E.slots, fillSlot], [E.cards, fillCard]];
    for (var p = 0; p < 2; p++) {
      for (var list = lists[p][0], k = 0; k < list.length; k++) {
        if (list[k].gen === E.gen) continue;
        if (more && !more()) return false;
        lists[p][1](E, list[k]);
        E.stale--;
      }
    }
    return true;
  }
  /* Once the sliders rest (RW.idleMs; Infinity: never), the rest a frame's budget at a time. */
  function settle(E, RW) {
    var job = ++E.job;
    clearTimeout(E.timer);
    if (!E.stale || !(RW.idleMs < Infinity)) return;
    function step() {
      requestAnimationFrame(function () {
        if (job !== E.job) return;  // a newer move: its own settling
        var t0 = performance.now();
        if (!fillStale(E, function () { return performance.now() - t0 < BUDGET_MS; })) step();
      });
    }
    E.timer = setTimeout(step, RW.idleMs);
  }

  function summary(E, R, M, RW, r) {
    var e = E.e, counts = RW.countsOf(E.verdict), fav = String(M.favorable), rev = String(M.review);
    E.cardBoxes.forEach(function (box, k) {
      if (box.num) setText(box.num, counts[k].toLocaleString('en-US'));
      if (box.what) setText(box.what, !r ? box.screened :
        R.meanings[R.verdicts[k]].split('{favorable}').join(fav).split('{review}').join(rev));
    });
    var whatIf = !!r;
    R.stale.forEach(function (sel) {
      Array.prototype.forEach.call(document.querySelectorAll(sel), function (n) { n.classList.toggle('ss-rw-stale', whatIf); });
    });
    W.banner.hidden = !whatIf;
    if (whatIf) setText(W.banner, 'What-if, not a screening result: verdicts and scores recomputed in this page with weights ' +
      R.criteria.map(function (c, k) { return c.label + ' ' + SS.reweightWords.weight(e[k]); }).join(', ') +
      ' and thresholds favorable \u2265 ' + fav + ', review \u2265 ' + rev + ' (excluded and incomplete sites as screened; ' +
      'faded sections show the run as screened' + (R.ranked_note ? '; ' + R.ranked_note : '') +
      '). Screen again with the downloaded profile for a result.');
  }

  /* A repaint (r: the rescoring, or null: as screened): the state of every row and card, then the near ones and the summary. */
  function paint(E, R, RW, r) {
    var M = RW.model;
    E.gen++;
    E.verdict = r ? r.verdict : M.baseVerdict;
    E.score = r ? r.score : W.baseScore;
    E.e = RW.effective();
    E.order = r ? ranking(E, E.score) : null;  // null: the order Python wrote
    E.stale = E.slots.length + E.cards.length;
    fillNear(E);
    summary(E, R, M, RW, r);
    settle(E, RW);
  }

  SS.reweightReport = function (dataId) {
    var node = document.getElementById(dataId);
    if (!node || !SS.reweightController) return null;
    var R = JSON.parse(node.textContent), n = R.n;
    W = { baseScore: SS.reweightColumn(R.sc, n) };
    var names = R.criteria.map(function (c) { return c.name; });
    W.rowCriterion = R.rows.map(function (name) { return names.indexOf(name); });
    var E = collect(R), RW;
    if (!E) return null;  // the page is not the one the data was made for
    RW = SS.reweight = SS.reweightController(R, { verdict: verdictCodes(R.v), score: W.baseScore }, {
      ids: null, verdicts: R.labels,
      paint: function (r) { paint(E, R, RW, r); }
    });
    E.labels = R.labels; E.EX = R.verdicts.indexOf('excluded'); E.s = RW.model.s;
    RW.countsOf = function (v) {
      var counts = R.verdicts.map(function () { return 0; });
      for (var i = 0; i < n; i++) counts[v[i]]++;
      return counts;
    };
    RW.idleMs = IDLE_MS;
    RW.stale = function () { return E.stale; };  // rows and cards not yet showing the last move
    RW.elements = E;
    window.addEventListener('scroll', function () { fillNear(E); }, { passive: true });
    window.addEventListener('resize', function () { fillNear(E); });
    window.addEventListener('beforeprint', function () { if (E.stale) fillStale(E); });  // print: every row and card
    W.banner = document.createElement('div');
    W.banner.className = 'ss-rw-banner'; W.banner.hidden = true;
    var main = document.querySelector('main'), head = main && main.querySelector('header');
    if (head) head.parentNode.insertBefore(W.banner, head.nextSibling);
    RW.box.classList.add('ss-rw-fixed');
    document.body.appendChild(RW.box);
    RW.show();
    return RW;
  };
})();
