/* sitescreen live re-weighting in the review report: the controller of sitescreen-reweight.js bound
 * to the report's own elements. Python (sitescreen/outputs/reportreweight.py) gives the map's
 * re-weighting data in the report's ranked order, with the sites' verdicts and exact scores, the
 * sites of the breakdown cards, the verdicts' labels and colours, the criteria of a breakdown's rows
 * and the verdict meanings' templates.
 * A move recomputes the summary counts and meanings, each site's verdict and score (ranked table,
 * re-ordered and re-numbered, and breakdown cards) and a breakdown's effective weights and points;
 * the sections that cannot follow (charts, overview map, stability, roll-ups) are marked as
 * screened, and a banner (printed too) says the page is a what-if. Texts are set with textContent.
 */
(function () {
  'use strict';
  var SS = (window.sitescreen = window.sitescreen || {});
  var W = null;

  function verdictCodes(str) {
    var v = new Uint8Array(str.length);
    for (var i = 0; i < str.length; i++) v[i] = str.charCodeAt(i) - 48;
    return v;
  }
  /* Text and colour set only where they change: a move re-lays out only what it changed. */
  function setText(node, t) { if (node.textContent !== t) node.textContent = t; }
  function setBadge(badge, v) { if (badge.dataset.v !== v.key) { badge.textContent = v.label; badge.style.background = v.color; badge.dataset.v = v.key; } }

  /* The report's elements, each with the index of its site in the data (the data is in the ranked
     table's order, R.cards the sites of the breakdown cards in their order). */
  function collect(R) {
    var body = document.querySelector('#ranking table.ranked tbody'), rows = [];
    var trs = body ? body.rows : [];
    if (trs.length !== R.listed) return null;
    Array.prototype.forEach.call(trs, function (tr, i) {
      rows.push({ tr: tr, i: i, id: tr.cells[1].textContent, badge: tr.cells[3].querySelector('.badge'), score: tr.cells[4] });
    });
    var arts = document.querySelectorAll('#sites article.site'), cards = [];
    if (arts.length !== R.cards.length) return null;
    Array.prototype.forEach.call(arts, function (a, k) {
      cards.push({ i: R.cards[k], badge: a.querySelector('header .badge'), score: a.querySelector('header .score'),
                   rows: Array.prototype.slice.call(a.querySelectorAll('table.crit tbody tr')) });
    });
    var cardBoxes = Array.prototype.slice.call(document.querySelectorAll('#summary .cards .card')).map(function (box) {
      var what = box.querySelector('.muted');  // as screened: Python's words, put back on Reset
      return { num: box.querySelector('.num'), what: what, screened: what ? what.textContent : '' };
    });
    return { body: body, rows: rows, cards: cards, cardBoxes: cardBoxes };
  }

  function paint(E, R, M, RW, r) {
    var verdict = r ? r.verdict : M.baseVerdict, score = r ? r.score : W.baseScore;
    var V = R.labels, e = RW.effective(), EX = R.verdicts.indexOf('excluded');
    E.rows.forEach(function (row) { setBadge(row.badge, V[verdict[row.i]]); setText(row.score, SS.reweightWords.score(score[row.i])); });
    var order = E.rows.slice().sort(function (a, b) {  // as report._ranked: by score (unscored last), then by id
      var x = score[a.i], y = score[b.i];
      x = x === x ? x : -1; y = y === y ? y : -1;
      if (x !== y) return y - x;
      var p = a.id, q = b.id;
      return p < q ? -1 : (p > q ? 1 : 0);
    });
    var moved = order.some(function (row, k) { return E.body.rows[k] !== row.tr; });
    order.forEach(function (row, k) { setText(row.tr.cells[0], String(k + 1)); if (moved) E.body.appendChild(row.tr); });
    E.cards.forEach(function (c) {
      var i = c.i;
      setBadge(c.badge, V[verdict[i]]);
      setText(c.score, SS.reweightWords.score(score[i]));
      c.rows.forEach(function (tr, j) {
        var k = W.rowCriterion[j];
        if (k < 0 || !tr.cells[4]) return;
        setText(tr.cells[3], SS.reweightWords.weight(e[k]));
        var s = M.s[k][i];
        setText(tr.cells[4], verdict[i] === EX || s !== s || !e[k] ? SS.reweightWords.points(NaN) : SS.reweightWords.points(s * e[k] * 100));
      });
    });
    var counts = RW.countsOf(verdict), fav = String(M.favorable), rev = String(M.review);
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
    if (whatIf) W.banner.textContent = 'What-if, not a screening result: verdicts and scores recomputed in this page with weights ' +
      R.criteria.map(function (c, k) { return c.label + ' ' + SS.reweightWords.weight(e[k]); }).join(', ') +
      ' and thresholds favorable \u2265 ' + fav + ', review \u2265 ' + rev + ' (excluded and incomplete sites as screened; ' +
      'faded sections show the run as screened' + (R.ranked_note ? '; ' + R.ranked_note : '') +
      '). Screen again with the downloaded profile for a result.';
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
      paint: function (r) { paint(E, R, RW.model, RW, r); }
    });
    RW.countsOf = function (v) {
      var counts = R.verdicts.map(function () { return 0; });
      for (var i = 0; i < n; i++) counts[v[i]]++;
      return counts;
    };
    RW.elements = E;
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
