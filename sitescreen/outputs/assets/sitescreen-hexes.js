/* sitescreen map: hexagons coloured by verdict mix below the site zoom (big maps only).
 *
 * sitescreen/outputs/maphexes.py bins the sites once: each site's finest hexagon, each coarser
 * level's parent index, the counts per verdict. This file draws the level of the current zoom into
 * canvas tiles (each hexagon striped by the share of each shown verdict), shows the counts on hover,
 * zooms to the sites on click, and recounts from the sites' verdicts after live re-weighting. From
 * the site zoom on the sites layer (sitescreen-map.js) draws the sites; below it, it draws none.
 */
(function () {
  'use strict';
  var SS = window.sitescreen, R = 6378137, HALF = Math.PI * R, WORLD = 2 * HALF, SQ3 = Math.sqrt(3);

  function unzig(d) { return d % 2 ? -(d + 1) / 2 : d / 2; }
  function decodeLevel(L0, nv) {
    var u = SS.decodeU(L0.qr, 2 * L0.n), qr = new Float64Array(2 * L0.n), q = 0, r = 0;
    var cx = new Float64Array(L0.n), cy = new Float64Array(L0.n), key = new Map();
    for (var h = 0; h < L0.n; h++) {
      q += unzig(u[2 * h]); r += unzig(u[2 * h + 1]); qr[2 * h] = q; qr[2 * h + 1] = r;
      cx[h] = L0.size * SQ3 * (q + r / 2); cy[h] = L0.size * 1.5 * r; key.set(q + ',' + r, h);
    }
    return { z: L0.z, size: L0.size, n: L0.n, cx: cx, cy: cy, key: key,
             counts: SS.decodeU(L0.counts, L0.n * nv), up: null, upStr: L0.up };
  }

  var HexTiles = L.GridLayer.extend({
    options: { tileSize: 512, pane: 'ssHexes', updateWhenZooming: false },
    initialize: function (data, sites) {
      this.H = data; this.sites = sites; this.zs = data.zs; this.nv = data.nv;
      this.levels = data.levels.map(function (l) { return decodeLevel(l, data.nv); });
      var fine = this.levels[this.levels.length - 1];
      this.levels.forEach(function (l) { if (l.upStr) l.up = SS.decodeU(l.upStr, fine.n); });
      var u = SS.decodeU(data.site, data.n), s = new Uint32Array(data.n), acc = 0;
      for (var i = 0; i < data.n; i++) { acc += unzig(u[i]); s[i] = acc; }
      this.siteHex = s;
    },
    level: function (z) {
      var ls = this.levels;
      return z < ls[0].z ? ls[0] : ls[Math.min(ls.length - 1, z - ls[0].z)];
    },
    createTile: function (coords) {
      var size = this.getTileSize().x, c = L.DomUtil.create('canvas', 'ss-tile'), dpr = window.devicePixelRatio || 1;
      c.width = size * dpr; c.height = size * dpr;
      var ctx = c.getContext('2d');
      ctx.scale(dpr, dpr);
      if (coords.z < this.zs) this._paint(ctx, coords, size);
      return c;
    },
    _paint: function (ctx, coords, size) {
      var lv = this.level(coords.z), m = WORLD * size / (256 * Math.pow(2, coords.z)), s = size / m;
      var x0 = -HALF + coords.x * m, y1 = HALF - coords.y * m, pad = lv.size * 1.1, rp = lv.size * s;
      var meta = this.sites.meta, vis = this.sites.visible, nv = this.nv;
      for (var h = 0; h < lv.n; h++) {
        var X = lv.cx[h], Y = lv.cy[h];
        if (X < x0 - pad || X > x0 + m + pad || Y > y1 + pad || Y < y1 - m - pad) continue;
        var tot = 0;
        for (var v = 0; v < nv; v++) if (vis[v]) tot += lv.counts[h * nv + v];
        if (!tot) continue;
        var px = (X - x0) * s, py = (y1 - Y) * s;
        ctx.beginPath();
        for (var k = 0; k < 6; k++) {
          var a = Math.PI / 6 + k * Math.PI / 3;
          ctx.lineTo(px + rp * Math.cos(a), py + rp * Math.sin(a));
        }
        ctx.closePath();
        ctx.save(); ctx.clip(); ctx.globalAlpha = 0.85;
        var left = px - rp, w = 2 * rp;
        for (v = 0; v < nv; v++) {
          var c = vis[v] ? lv.counts[h * nv + v] : 0;
          if (!c) continue;
          ctx.fillStyle = meta.verdicts[v].color; ctx.fillRect(left, py - rp, w * c / tot + 0.5, 2 * rp);
          left += w * c / tot;
        }
        ctx.restore();
        ctx.lineWidth = 1; ctx.strokeStyle = '#ffffff'; ctx.stroke();
      }
    },
    /* The hexagon under a latlng at the current zoom, or -1. */
    hexAt: function (latlng) {
      var z = this._map.getZoom();
      if (z >= this.zs) return -1;
      var lv = this.level(z), p = L.CRS.EPSG3857.project(latlng);
      var q = (SQ3 / 3 * p.x - p.y / 3) / lv.size, r = (2 / 3 * p.y) / lv.size, s = -q - r;
      var rq = Math.round(q), rr = Math.round(r), rs = Math.round(s);
      var dq = Math.abs(rq - q), dr = Math.abs(rr - r), ds = Math.abs(rs - s);
      if (dq > dr && dq > ds) rq = -rr - rs; else if (dr > ds) rr = -rq - rs;
      var h = lv.key.get(rq + ',' + rr);
      return h === undefined ? -1 : h;
    },
    tooltip: function (h) {
      var lv = this.level(this._map.getZoom()), meta = this.sites.meta, nv = this.nv, tot = 0, rows = '';
      for (var v = 0; v < nv; v++) {
        var c = lv.counts[h * nv + v];
        tot += c;
        if (c) rows += '<br><span class="ss-dot" style="background:' + meta.verdicts[v].color + '"></span>' +
          SS.esc(meta.verdicts[v].label) + ' ' + c.toLocaleString('en-US');
      }
      return '<div class="ss-tip ss-hex-tip"><b>' + tot.toLocaleString('en-US') + (tot === 1 ? ' site' : ' sites') +
        '</b> <span class="ss-muted">zoom in to see them</span>' + rows + '</div>';
    },
    /* Counts again from the sites' verdict codes (after re-weighting), then every tile redrawn. */
    recount: function (verdict) {
      var nv = this.nv, fine = this.levels[this.levels.length - 1], fc = fine.counts;
      fc.fill(0);
      for (var i = 0; i < this.siteHex.length; i++) fc[this.siteHex[i] * nv + verdict[i]] += 1;
      this.levels.forEach(function (l) {
        if (l === fine) return;
        l.counts.fill(0);
        for (var f = 0; f < fine.n; f++) for (var v = 0; v < nv; v++) l.counts[l.up[f] * nv + v] += fc[f * nv + v];
      });
      if (this._map) this.redraw();
    }
  });

  /* The hexagon layer for a sites layer (SitesTiles), which from now on draws no site below the site zoom. */
  SS.hexLayer = function (map, sites, data) {
    if (!map.getPane('ssHexes')) map.createPane('ssHexes').style.zIndex = 440;
    var hexes = new HexTiles(data, sites), zs = data.zs, S = SS.sites;
    var createTile = sites.createTile, siteAt = sites.siteAt, setVisible = sites.setVisible, restyle = S.restyle,
        openSite = S.openSite;
    sites.createTile = function (coords) {
      if (coords.z >= zs) return createTile.call(this, coords);
      var size = this.getTileSize().x, c = L.DomUtil.create('canvas', 'ss-tile');
      c._ss = { ctx: c.getContext('2d'), coords: coords, ids: new Uint32Array(0) };
      c.width = c.height = size;
      return c;
    };
    sites.siteAt = function (cpt) { return this._map.getZoom() < zs ? -1 : siteAt.call(this, cpt); };
    sites.setVisible = function (v, on) { setVisible.call(this, v, on); if (hexes._map) hexes.redraw(); };
    S.restyle = function (verdict, score) { restyle(verdict, score); hexes.recount(S.D.verdict); };
    S.openSite = function (i, fly) {  // a site found by search is shown where sites are drawn
      if (fly && map.getZoom() < zs) map.setView(sites.latLng(i), zs, { animate: false });
      openSite(i, fly);
    };
    var tip = L.tooltip({ direction: 'top', offset: [0, -8], className: 'ss-tooltip', opacity: 1 });
    map.on('mousemove', function (e) {
      var h = map.hasLayer(hexes) ? hexes.hexAt(e.latlng) : -1;
      if (h >= 0) { tip.setLatLng(e.latlng).setContent(hexes.tooltip(h)); if (!map.hasLayer(tip)) tip.addTo(map); }
      else if (map.hasLayer(tip)) map.removeLayer(tip);
    });
    map.on('mouseout zoomstart', function () { if (map.hasLayer(tip)) map.removeLayer(tip); });
    map.on('click', function (e) {
      var h = map.hasLayer(hexes) ? hexes.hexAt(e.latlng) : -1;
      if (h < 0) return;
      var lv = hexes.level(map.getZoom());
      map.setView(L.CRS.EPSG3857.unproject(L.point(lv.cx[h], lv.cy[h])), zs);
    });
    hexes.on('load', function () { hexes.ready = true; });
    map.on('layeradd layerremove', function (e) {  // the hexagons follow the sites layer in and out of the map
      if (e.layer !== sites) return;
      if (e.type === 'layeradd' && !map.hasLayer(hexes)) hexes.addTo(map);
      else if (e.type === 'layerremove' && map.hasLayer(hexes)) map.removeLayer(hexes);
    });
    if (map.hasLayer(sites)) { hexes.addTo(map); sites.redraw(); }  // (added before the sites, it draws once)
    SS.hexes = hexes;
    return hexes;
  };
})();
