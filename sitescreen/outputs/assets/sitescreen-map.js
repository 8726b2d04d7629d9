/* sitescreen map runtime: canvas tile layers over compact, pre-projected data.
 *
 * Python (sitescreen/mapping.py) writes every layer as EPSG:3857 coordinates, quantized and
 * delta-encoded as varint strings, inside JSON script elements (type application/json). This file
 * decodes them once into typed arrays, indexes them on a grid, and draws them into L.GridLayer
 * canvas tiles, so 100,000 sites over 200,000 polygons pan like a basemap. Tooltips and popups
 * are built on demand from the compact arrays; every data value passes through esc().
 */
(function () {
  'use strict';
  var SS = (window.sitescreen = window.sitescreen || {});
  var mark = function (name) { if (window.performance && performance.mark) performance.mark('sitescreen:' + name); };
  mark('runtime');
  var R = 6378137, HALF = Math.PI * R, WORLD = 2 * HALF;

  // ---------------------------------------------------------------- helpers
  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function esc(s) {
    return s === null || s === undefined ? '' : String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; });
  }
  SS.esc = esc;

  var readJSON = SS.readJSON;  // plain or packed data elements (sitescreen-unpack.js, inlined before this file)

  var decodeU = SS.decodeU;  // unsigned varints (sitescreen-varint.js, inlined before this file)
  // Zigzag deltas of interleaved x,y; returns absolute coordinates times q.
  function decodeXY(str, nvtx, q) {
    var out = new Float64Array(nvtx * 2), k = 0, v = 0, f = 1, x = 0, y = 0;
    for (var i = 0, L = str.length; i < L; i++) {
      var c = str.charCodeAt(i) - 63;
      v += (c & 31) * f;
      if (c & 32) { f *= 32; continue; }
      var d = v % 2 ? -(v + 1) / 2 : v / 2;
      if (k & 1) { y += d; out[k++] = y * q; } else { x += d; out[k++] = x * q; }
      v = 0; f = 1;
    }
    return out;
  }
  function ones(n) { var a = new Float64Array(n); a.fill(1); return a; }

  /* A geometry block: {type, n, nrings, nvtx, q, xy, nv, nr}. Returns typed arrays:
     xy (meters), ringStart (vertex offsets), featRing (ring offsets), bbox (4 per feature). */
  function decodeGeom(g) {
    var xy = decodeXY(g.xy, g.nvtx, g.q);
    var nv = g.nv ? decodeU(g.nv, g.nrings) : ones(g.nrings);
    var nr = g.nr ? decodeU(g.nr, g.n) : ones(g.n);
    var ringStart = new Uint32Array(g.nrings + 1), featRing = new Uint32Array(g.n + 1);
    for (var i = 0; i < g.nrings; i++) ringStart[i + 1] = ringStart[i] + nv[i];
    for (var j = 0; j < g.n; j++) featRing[j + 1] = featRing[j] + nr[j];
    var bbox = new Float64Array(4 * g.n);
    for (j = 0; j < g.n; j++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var v = ringStart[featRing[j]], e = ringStart[featRing[j + 1]]; v < e; v++) {
        var x = xy[2 * v], y = xy[2 * v + 1];
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
      bbox[4 * j] = x0; bbox[4 * j + 1] = y0; bbox[4 * j + 2] = x1; bbox[4 * j + 3] = y1;
    }
    return { type: g.type, n: g.n, xy: xy, ringStart: ringStart, featRing: featRing, bbox: bbox };
  }

  function decodeDict(p, n) {
    if (!p) return null;
    if (p.list) return function (i) { return p.list[i]; };
    var idx = decodeU(p.idx, n);
    return function (i) { var k = idx[i]; return k ? p.dict[k - 1] : null; };
  }

  // ---------------------------------------------------------------- grid index
  function GridIndex(bbox, n) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, i;
    for (i = 0; i < n; i++) {
      if (bbox[4 * i] < x0) x0 = bbox[4 * i]; if (bbox[4 * i + 1] < y0) y0 = bbox[4 * i + 1];
      if (bbox[4 * i + 2] > x1) x1 = bbox[4 * i + 2]; if (bbox[4 * i + 3] > y1) y1 = bbox[4 * i + 3];
    }
    if (!n) { x0 = y0 = 0; x1 = y1 = 1; }
    var w = Math.max(x1 - x0, 1), h = Math.max(y1 - y0, 1);
    var cells = Math.min(Math.max(Math.ceil(n / 4), 1), 1 << 20);
    var gx = Math.max(1, Math.min(4096, Math.round(Math.sqrt(cells * w / h))));
    var gy = Math.max(1, Math.min(4096, Math.round(cells / gx)));
    var cw = w / gx, ch = h / gy;
    var counts = new Uint32Array(gx * gy + 1), big = [];
    var span = new Int32Array(4 * n);
    for (i = 0; i < n; i++) {
      var a = Math.max(0, Math.min(gx - 1, Math.floor((bbox[4 * i] - x0) / cw)));
      var b = Math.max(0, Math.min(gy - 1, Math.floor((bbox[4 * i + 1] - y0) / ch)));
      var c = Math.max(0, Math.min(gx - 1, Math.floor((bbox[4 * i + 2] - x0) / cw)));
      var d = Math.max(0, Math.min(gy - 1, Math.floor((bbox[4 * i + 3] - y0) / ch)));
      span[4 * i] = a; span[4 * i + 1] = b; span[4 * i + 2] = c; span[4 * i + 3] = d;
      if ((c - a + 1) * (d - b + 1) > 64) { big.push(i); continue; }
      for (var yy = b; yy <= d; yy++) for (var xx = a; xx <= c; xx++) counts[yy * gx + xx + 1]++;
    }
    for (i = 0; i < gx * gy; i++) counts[i + 1] += counts[i];
    var items = new Uint32Array(counts[gx * gy]), fill = counts.slice(0, gx * gy);
    for (i = 0; i < n; i++) {
      if ((span[4 * i + 2] - span[4 * i] + 1) * (span[4 * i + 3] - span[4 * i + 1] + 1) > 64) continue;
      for (yy = span[4 * i + 1]; yy <= span[4 * i + 3]; yy++)
        for (xx = span[4 * i]; xx <= span[4 * i + 2]; xx++) items[fill[yy * gx + xx]++] = i;
    }
    var nonEmpty = 0;
    for (i = 0; i < gx * gy; i++) if (counts[i + 1] > counts[i]) nonEmpty++;
    this.occupiedArea = Math.max(nonEmpty, 1) * cw * ch;  // where the features actually are
    var stamp = new Uint32Array(n), q = 0;
    this.query = function (qx0, qy0, qx1, qy1, out) {
      out.length = 0;
      q++;
      var a = Math.max(0, Math.floor((qx0 - x0) / cw)), b = Math.max(0, Math.floor((qy0 - y0) / ch));
      var c = Math.min(gx - 1, Math.floor((qx1 - x0) / cw)), d = Math.min(gy - 1, Math.floor((qy1 - y0) / ch));
      for (var yy = b; yy <= d; yy++) {
        for (var xx = a; xx <= c; xx++) {
          for (var k = counts[yy * gx + xx], e = counts[yy * gx + xx + 1]; k < e; k++) {
            var f = items[k];
            if (stamp[f] === q) continue;
            stamp[f] = q;
            if (bbox[4 * f] <= qx1 && bbox[4 * f + 2] >= qx0 && bbox[4 * f + 1] <= qy1 && bbox[4 * f + 3] >= qy0) out.push(f);
          }
        }
      }
      for (k = 0; k < big.length; k++) {
        f = big[k];
        if (bbox[4 * f] <= qx1 && bbox[4 * f + 2] >= qx0 && bbox[4 * f + 1] <= qy1 && bbox[4 * f + 3] >= qy0) out.push(f);
      }
      return out;
    };
  }

  // ---------------------------------------------------------------- geometry tests
  function inRings(G, f, x, y) {
    var inside = false, xy = G.xy;
    for (var r = G.featRing[f]; r < G.featRing[f + 1]; r++) {
      var s = G.ringStart[r], e = G.ringStart[r + 1];
      for (var i = s, j = e - 1; i < e; j = i++) {
        var xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
    return inside;
  }
  function nearLine(G, f, x, y, tol) {
    var xy = G.xy, t2 = tol * tol;
    for (var r = G.featRing[f]; r < G.featRing[f + 1]; r++) {
      for (var i = G.ringStart[r]; i < G.ringStart[r + 1] - 1; i++) {
        var ax = xy[2 * i], ay = xy[2 * i + 1], bx = xy[2 * i + 2], by = xy[2 * i + 3];
        var dx = bx - ax, dy = by - ay, L2 = dx * dx + dy * dy;
        var t = L2 ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / L2)) : 0;
        var ex = ax + t * dx - x, ey = ay + t * dy - y;
        if (ex * ex + ey * ey <= t2) return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- drawing
  function tileFrame(coords, size) {
    var m = (WORLD * size) / (256 * Math.pow(2, coords.z));
    return { x0: -HALF + coords.x * m, y1: HALF - coords.y * m, m: m, s: size / m };
  }
  function newCanvas(size) {
    var c = L.DomUtil.create('canvas', 'ss-tile'), dpr = window.devicePixelRatio || 1;
    c.width = size * dpr; c.height = size * dpr;
    var ctx = c.getContext('2d');
    ctx.scale(dpr, dpr);
    return [c, ctx];
  }
  var patterns = {};
  function hatch(ctx, color) {
    if (!patterns[color]) {
      var p = document.createElement('canvas'); p.width = p.height = 8;
      var g = p.getContext('2d');
      g.strokeStyle = color; g.lineWidth = 1.1; g.globalAlpha = 0.7;
      g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
      patterns[color] = p;
    }
    return ctx.createPattern(patterns[color], 'repeat');
  }
  // Trace feature f's rings into the current path (decimating sub-pixel steps).
  function trace(ctx, G, f, T, close) {
    var xy = G.xy;
    for (var r = G.featRing[f]; r < G.featRing[f + 1]; r++) {
      var s = G.ringStart[r], e = G.ringStart[r + 1];
      var px = (xy[2 * s] - T.x0) * T.s, py = (T.y1 - xy[2 * s + 1]) * T.s;
      ctx.moveTo(px, py);
      for (var i = s + 1; i < e; i++) {
        var qx = (xy[2 * i] - T.x0) * T.s, qy = (T.y1 - xy[2 * i + 1]) * T.s;
        if (i < e - 1 && Math.abs(qx - px) + Math.abs(qy - py) < 0.6) continue;
        ctx.lineTo(qx, qy); px = qx; py = qy;
      }
      if (close) ctx.lineTo((xy[2 * s] - T.x0) * T.s, (T.y1 - xy[2 * s + 1]) * T.s); // not closePath(): quadratic in Chrome
    }
  }
  function drawShape(ctx, shape, x, y, r) {
    if (shape === 'diamond') { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.lineTo(x, y - r); }
    else if (shape === 'square') { ctx.rect(x - r, y - r, 2 * r, 2 * r); }
    else if (shape === 'triangle') { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + 0.8 * r); ctx.lineTo(x - r, y + 0.8 * r); ctx.lineTo(x, y - r); }
    else { ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI); }
  }

  /* Marks (site dots, point symbols) are rendered once as sprites and composited in JS into one
     pixel buffer per tile: for 100,000 marks this is ~10x faster than a canvas call per mark. */
  var DPR = window.devicePixelRatio || 1, sprites = {};
  function sprite(key, r, paint) {
    var sp = sprites[key];
    if (!sp) {
      var s = Math.ceil(2 * r + 4), w = Math.ceil(s * DPR);
      var c = document.createElement('canvas');
      c.width = c.height = w;
      var g = c.getContext('2d', { willReadFrequently: true });
      g.scale(DPR, DPR);
      paint(g, s / 2, s / 2, r);
      var px = g.getImageData(0, 0, w, w).data, pm = new Float32Array(px.length);
      for (var q = 0; q < px.length; q += 4) {  // premultiplied, for Pixels
        var f = px[q + 3] / 255;
        pm[q] = px[q] * f; pm[q + 1] = px[q + 1] * f; pm[q + 2] = px[q + 2] * f; pm[q + 3] = px[q + 3];
      }
      sp = sprites[key] = { w: w, pm: pm };
    }
    return sp;
  }
  function stampOffsets(sp, W) {  // a mark sprite's painted pixels: sprite and buffer offsets (W px wide)
    var src = [], dst = [];
    for (var j = 0; j < sp.w; j++) for (var i = 0; i < sp.w; i++) {
      if (sp.pm[4 * (j * sp.w + i) + 3]) { src.push(4 * (j * sp.w + i)); dst.push(4 * (j * W + i)); }
    }
    sp.src = Int32Array.from(src); sp.dst = Int32Array.from(dst); sp.W = W;
  }
  function rgb(hex) {
    var h = hex.replace('#', '');
    return [parseInt(h.substr(0, 2), 16), parseInt(h.substr(2, 2), 16), parseInt(h.substr(4, 2), 16)];
  }
  /* Source-over compositing into premultiplied floats (no division per pixel), straightened once in paint(). */
  function Pixels(size) {
    var W = Math.round(size * DPR), buf = null;
    function over(d, r, g, b, sa) {  // r, g, b premultiplied by sa/255; sa 0–255
      var k = 1 - sa / 255;
      buf[d] = r + buf[d] * k; buf[d + 1] = g + buf[d + 1] * k; buf[d + 2] = b + buf[d + 2] * k; buf[d + 3] = sa + buf[d + 3] * k;
    }
    this.stamp = function (sp, x, y) {
      if (!buf) buf = new Float32Array(W * W * 4);
      var w = sp.w, pm = sp.pm, ox = Math.round(x * DPR - w / 2), oy = Math.round(y * DPR - w / 2);
      if (ox >= 0 && oy >= 0 && ox + w <= W && oy + w <= W) {  // wholly inside: its painted pixels only
        if (sp.W !== W) stampOffsets(sp, W);
        for (var q = 0, src = sp.src, dst = sp.dst, base = 4 * (oy * W + ox); q < src.length; q++) {
          var s0 = src[q], d0 = base + dst[q], a0 = pm[s0 + 3], k0 = 1 - a0 / 255;
          buf[d0] = pm[s0] + buf[d0] * k0; buf[d0 + 1] = pm[s0 + 1] + buf[d0 + 1] * k0;
          buf[d0 + 2] = pm[s0 + 2] + buf[d0 + 2] * k0; buf[d0 + 3] = a0 + buf[d0 + 3] * k0;
        }
        return;
      }
      var j0 = Math.max(0, -oy), j1 = Math.min(w, W - oy), i0 = Math.max(0, -ox), i1 = Math.min(w, W - ox);
      for (var j = j0; j < j1; j++) {
        for (var i = i0, s = 4 * (j * w + i0), d = 4 * ((oy + j) * W + ox + i0); i < i1; i++, s += 4, d += 4) {
          var sa = pm[s + 3];
          if (!sa) continue;
          var k = 1 - sa / 255;
          buf[d] = pm[s] + buf[d] * k; buf[d + 1] = pm[s + 1] + buf[d + 1] * k;
          buf[d + 2] = pm[s + 2] + buf[d + 2] * k; buf[d + 3] = sa + buf[d + 3] * k;
        }
      }
    };
    this.dot = function (x, y, c, alpha) {
      if (!buf) buf = new Float32Array(W * W * 4);
      var px = Math.floor(x * DPR), py = Math.floor(y * DPR), n = Math.max(1, Math.round(DPR)), f = alpha / 255;
      for (var j = 0; j < n; j++) for (var i = 0; i < n; i++) {
        if (px + i >= 0 && py + j >= 0 && px + i < W && py + j < W) over(4 * ((py + j) * W + px + i), c[0] * f, c[1] * f, c[2] * f, alpha);
      }
    };
    /* A circle footprint (footprintSprite) at device pixel (ox, oy): fill colour F (rgb) at opacity a
       (0-1), then the outline in colour O, opaque; source-over as the canvas draws them one by one. */
    this.footprint = function (sp, ox, oy, F, a, O) {
      if (!buf) buf = new Float32Array(W * W * 4);
      var x0 = ox - sp.h, y0 = oy - sp.h, runs = sp.runs, edge = sp.edge, m1 = sp.m1, m2 = sp.m2;
      var fr = F[0] * a, fg = F[1] * a, fb = F[2] * a, fa = 255 * a, k = 1 - a, q, d, e;
      if (x0 >= 0 && y0 >= 0 && x0 + sp.w <= W && y0 + sp.w <= W) {  // wholly inside: offsets, no checks
        if (sp.W !== W) offsets(sp, W);
        var base = 4 * (y0 * W + x0), ro = sp.ro, eo = sp.eo;
        for (q = 0; q < ro.length; q += 2) {
          for (d = base + ro[q], e = d + ro[q + 1]; d < e; d += 4) {
            buf[d] = fr + buf[d] * k; buf[d + 1] = fg + buf[d + 1] * k; buf[d + 2] = fb + buf[d + 2] * k; buf[d + 3] = fa + buf[d + 3] * k;
          }
        }
        for (q = 0; q < eo.length; q++) {
          var c1 = m1[q], c2 = m2[q], kk = 1 - c2 - a * c1;
          d = base + eo[q];
          buf[d] = c2 * O[0] + c1 * fr + buf[d] * kk; buf[d + 1] = c2 * O[1] + c1 * fg + buf[d + 1] * kk;
          buf[d + 2] = c2 * O[2] + c1 * fb + buf[d + 2] * kk; buf[d + 3] = 255 * (c2 + a * c1) + buf[d + 3] * kk;
        }
        return;
      }
      for (q = 0; q < runs.length; q += 3) {
        var y = y0 + runs[q], xa = Math.max(0, x0 + runs[q + 1]), xb = Math.min(W, x0 + runs[q + 1] + runs[q + 2]);
        if (y < 0 || y >= W) continue;
        for (d = 4 * (y * W + xa), e = 4 * (y * W + xb); d < e; d += 4) {
          buf[d] = fr + buf[d] * k; buf[d + 1] = fg + buf[d + 1] * k; buf[d + 2] = fb + buf[d + 2] * k; buf[d + 3] = fa + buf[d + 3] * k;
        }
      }
      for (q = 0; q < m1.length; q++) {
        var px = x0 + edge[2 * q + 1], py = y0 + edge[2 * q];
        if (px < 0 || py < 0 || px >= W || py >= W) continue;
        c1 = m1[q]; c2 = m2[q]; kk = 1 - c2 - a * c1;
        d = 4 * (py * W + px);
        buf[d] = c2 * O[0] + c1 * fr + buf[d] * kk; buf[d + 1] = c2 * O[1] + c1 * fg + buf[d + 1] * kk;
        buf[d + 2] = c2 * O[2] + c1 * fb + buf[d + 2] * kk; buf[d + 3] = 255 * (c2 + a * c1) + buf[d + 3] * kk;
      }
    };
    /* putImageData replaces pixels: paint before any vector drawing; ``clip`` [x0, y0, x1, y1] (CSS px): only there. */
    this.paint = function (ctx, clip) {
      if (!buf) return;
      var out = new Uint8ClampedArray(W * W * 4);
      for (var d = 0; d < out.length; d += 4) {
        var a = buf[d + 3];
        if (!a) continue;
        var f = 255 / a;
        out[d] = buf[d] * f; out[d + 1] = buf[d + 1] * f; out[d + 2] = buf[d + 2] * f; out[d + 3] = a;
      }
      var img = new ImageData(out, W, W);
      if (!clip) ctx.putImageData(img, 0, 0);
      else ctx.putImageData(img, 0, 0, clip[0] * DPR, clip[1] * DPR, (clip[2] - clip[0]) * DPR, (clip[3] - clip[1]) * DPR);
    };
  }

  /* A circle footprint as coverage in device px, drawn once per radius (to 1/8 px) and position within
     a pixel (to 1/4 px) by the canvas itself: ``m1`` the fill's coverage left visible by the outline,
     ``m2`` the outline's (a 2 px stroke and, when ``dot``, the centre dot); pixels the fill covers
     wholly are runs (row, column, length), the others listed one by one (row, column). */
  var fpSprites = {}, TAU = 2 * Math.PI;
  function footprintSprite(r8, fx4, fy4, dot) {  // radius in 1/8 device px, phase in 1/4 px
    var key = ((r8 * 4 + fx4) * 4 + fy4) * 2 + (dot ? 1 : 0), sp = fpSprites[key];
    if (sp) return sp;
    var r = r8 / 8, fx = fx4 / 4, fy = fy4 / 4, h = Math.ceil(r + 2 * DPR + 2), w = 2 * h + 1, c = document.createElement('canvas');
    c.width = c.height = w;
    var g = c.getContext('2d', { willReadFrequently: true });
    g.beginPath(); g.arc(h + fx, h + fy, r, 0, TAU); g.fillStyle = g.strokeStyle = '#fff'; g.fill();
    var cf = g.getImageData(0, 0, w, w).data;
    g.clearRect(0, 0, w, w); g.lineWidth = 2 * DPR; g.stroke();
    if (dot) { g.beginPath(); g.arc(h + fx, h + fy, 2.5 * DPR, 0, TAU); g.fill(); }
    var cs = g.getImageData(0, 0, w, w).data, runs = [], edge = [], m1 = [], m2 = [];
    for (var j = 0; j < w; j++) {
      for (var i = 0; i < w; i++) {
        var q = 4 * (j * w + i), f = cf[q + 3] / 255, o = cs[q + 3] / 255;
        if (f === 1 && !o) {
          var e = i;
          while (e + 1 < w && cf[q + 4 * (e + 1 - i) + 3] === 255 && !cs[q + 4 * (e + 1 - i) + 3]) e++;
          runs.push(j, i, e - i + 1); i = e;
        } else if (f || o) { edge.push(j, i); m1.push((1 - o) * f); m2.push(o); }
      }
    }
    return (fpSprites[key] = { h: h, w: w, runs: Int32Array.from(runs), edge: Int32Array.from(edge),
                               m1: Float32Array.from(m1), m2: Float32Array.from(m2), W: 0 });
  }
  function offsets(sp, W) {  // a sprite's runs and pixels as buffer offsets for a buffer W px wide
    var ro = new Int32Array(sp.runs.length / 3 * 2), eo = new Int32Array(sp.edge.length / 2), q;
    for (q = 0; q < sp.runs.length; q += 3) { ro[q / 3 * 2] = 4 * (sp.runs[q] * W + sp.runs[q + 1]); ro[q / 3 * 2 + 1] = 4 * sp.runs[q + 2]; }
    for (q = 0; q < eo.length; q++) eo[q] = 4 * (sp.edge[2 * q] * W + sp.edge[2 * q + 1]);
    sp.ro = ro; sp.eo = eo; sp.W = W;
  }
  var FP_SPRITE_MAX = 64;  // CSS px: wider circle footprints are drawn as canvas paths (few fit a tile)

  function ensurePanes(map) {
    if (map.getPane('ssLayers')) return;
    map.createPane('ssLayers').style.zIndex = 350;
    map.createPane('ssSites').style.zIndex = 450;
    map.createPane('ssHighlight').style.zIndex = 460;
    map.getPane('ssHighlight').style.pointerEvents = 'none';
  }

  // ---------------------------------------------------------------- display layers
  /* One input layer: up to three geometry groups (polygon, line, point) with a role style. */
  var FeatureTiles = L.GridLayer.extend({
    options: { tileSize: 512, pane: 'ssLayers', updateWhenZooming: false, keepBuffer: 3 },
    initialize: function (spec, options) {
      L.setOptions(this, options);
      this.spec = spec;
      this.style = spec.style;
      this.groups = spec.groups.map(function (g) {
        var G = decodeGeom(g);
        G.name = decodeDict(g.names, g.n);
        G.st = g.style ? g.style : spec.style;  // a class of a land layer has its own colours
        G.index = new GridIndex(G.bbox, G.n);
        return G;
      });
      this.count = this.groups.reduce(function (a, G) { return a + G.n; }, 0);
      this._buf = [];
    },
    createTile: function (coords) {
      var size = this.getTileSize().x, cc = newCanvas(size), ctx = cc[1], st = this.style;
      var T = tileFrame(coords, size), pad = (8 + (st.radius || 0)) / T.s;
      var pix = new Pixels(size), work = [];
      for (var g = 0; g < this.groups.length; g++) {
        var G = this.groups[g], dotColor = rgb(G.st.fill || G.st.stroke);
        var ids = G.index.query(T.x0 - pad, T.y1 - T.m - pad, T.x0 + T.m + pad, T.y1 + pad, this._buf);
        if (!ids.length) continue;
        if (G.type === 'point') { work.push([G, ids.slice()]); continue; }
        var big = [];
        for (var i = 0; i < ids.length; i++) {
          var f = ids[i], b = 4 * f;
          if ((G.bbox[b + 2] - G.bbox[b]) * T.s < 3 && (G.bbox[b + 3] - G.bbox[b + 1]) * T.s < 3) {
            pix.dot(((G.bbox[b] + G.bbox[b + 2]) / 2 - T.x0) * T.s, (T.y1 - (G.bbox[b + 1] + G.bbox[b + 3]) / 2) * T.s, dotColor, 140);
          } else big.push(f);
        }
        if (big.length) work.push([G, big]);
      }
      for (var w = 0; w < work.length; w++) {  // point symbols go into the pixel buffer too
        G = work[w][0]; ids = work[w][1];
        if (G.type !== 'point') continue;
        st = G.st;
        var r = st.radius || 3, sp = sprite('pt' + st.stroke + st.fill + st.shape + r, r, function (c, x, y, rr) {
          c.beginPath(); drawShape(c, st.shape, x, y, rr);
          c.fillStyle = st.fill || st.stroke; c.globalAlpha = st.fillOpacity === undefined ? 0.9 : st.fillOpacity; c.fill();
          c.globalAlpha = 1; c.strokeStyle = st.halo || '#ffffff'; c.lineWidth = 1; c.stroke();
        });
        for (i = 0; i < ids.length; i++) {
          var v = G.ringStart[G.featRing[ids[i]]];
          pix.stamp(sp, (G.xy[2 * v] - T.x0) * T.s, (T.y1 - G.xy[2 * v + 1]) * T.s);
        }
      }
      pix.paint(ctx);
      for (w = 0; w < work.length; w++) {
        G = work[w][0]; ids = work[w][1];
        if (G.type === 'point') continue;
        var poly = G.type === 'polygon';
        st = G.st;
        ctx.beginPath();
        for (i = 0; i < ids.length; i++) trace(ctx, G, ids[i], T, poly);
        if (poly && st.fill) {
          ctx.globalAlpha = st.fillOpacity; ctx.fillStyle = st.fill; ctx.fill('nonzero');
          if (st.hatch && coords.z >= 8) { ctx.globalAlpha = 1; ctx.fillStyle = hatch(ctx, st.stroke); ctx.fill('nonzero'); }
        }
        ctx.globalAlpha = st.strokeOpacity === undefined ? 1 : st.strokeOpacity;
        ctx.strokeStyle = st.stroke; ctx.lineWidth = st.weight || 1;
        ctx.setLineDash(st.dash || []);
        ctx.lineJoin = 'round';
        ctx.stroke();
        ctx.setLineDash([]); ctx.globalAlpha = 1;
      }
      return cc[0];
    },
    /* Features of this layer at a projected point (meters), with a tolerance in meters. */
    hits: function (x, y, tol) {
      var out = [];
      for (var g = 0; g < this.groups.length; g++) {
        var G = this.groups[g], ids = G.index.query(x - tol, y - tol, x + tol, y + tol, []);
        for (var i = 0; i < ids.length; i++) {
          var f = ids[i], ok;
          if (G.type === 'polygon') ok = inRings(G, f, x, y) || nearLine(G, f, x, y, tol / 2);
          else if (G.type === 'line') ok = nearLine(G, f, x, y, tol);
          else { var v = G.ringStart[G.featRing[f]]; ok = Math.abs(G.xy[2 * v] - x) <= tol && Math.abs(G.xy[2 * v + 1] - y) <= tol; }
          if (ok) out.push(G.name ? G.name(f) : null);
        }
      }
      return out;
    }
  });

  // ---------------------------------------------------------------- sites
  var DRAW_ORDER = ['excluded', 'incomplete', 'unfavorable', 'review', 'favorable'];

  /* The distinct reason parts by number: a list, or templates with a hole per number (payload._reason_dict). */
  function reasonTexts(rs) {
    if (rs.dict) return function (k) { return rs.dict[k]; };
    var ti = decodeU(rs.ti, rs.nd), holes = rs.tpl.map(function (t) { return t.split('\x1f'); });
    var tok = decodeDict(rs.tok, rs.ntok), first = new Uint32Array(rs.nd), p = 0;
    for (var k = 0; k < rs.nd; k++) { first[k] = p; p += holes[ti[k]].length - 1; }
    return function (k) {
      var h = holes[ti[k]], s = h[0];
      for (var q = 1; q < h.length; q++) s += tok(first[k] + q - 1) + h[q];
      return s;
    };
  }

  function decodeSites(S, meta) {
    var n = S.n, c = decodeXY(S.c, n, 1);
    var score = decodeU(S.sc, n), verdict = new Uint8Array(n);
    for (var i = 0; i < n; i++) verdict[i] = S.v.charCodeAt(i) - 48;
    var radius = typeof S.fpr === 'number' ? new Float64Array(n).fill(S.fpr) : S.fpr ? decodeU(S.fpr, n) : new Float64Array(n);
    var fpIndex = new Int32Array(n).fill(-1), k = 0;
    var G = S.fpg ? decodeGeom(S.fpg) : null;
    var bbox = new Float64Array(4 * n);
    for (i = 0; i < n; i++) {
      var x = c[2 * i], y = c[2 * i + 1];
      var r = radius[i] / 10 * Math.cosh(y / R); // ground meters -> EPSG:3857 units
      radius[i] = r;
      bbox[4 * i] = x - r; bbox[4 * i + 1] = y - r; bbox[4 * i + 2] = x + r; bbox[4 * i + 3] = y + r;
      if (!r && G && S.hasfp && S.hasfp.charCodeAt(i) === 49) {
        fpIndex[i] = k;
        for (var q = 0; q < 4; q++) bbox[4 * i + q] = q < 2 ? Math.min(bbox[4 * i + q], G.bbox[4 * k + q]) : Math.max(bbox[4 * i + q], G.bbox[4 * k + q]);
        k++;
      }
    }
    var rank = new Uint8Array(n);
    var ord = meta.verdicts.map(function (v) { return DRAW_ORDER.indexOf(v.key); });
    for (i = 0; i < n; i++) rank[i] = ord[verdict[i]];
    var reasons = null;
    if (S.rs) {
      var rsText = reasonTexts(S.rs);
      var flat = decodeU(S.rs.idx, S.rs.count), start = new Uint32Array(n + 1), p = 0;
      for (i = 0; i < n; i++) { start[i] = p + 1; p += 1 + flat[p]; }
      reasons = function (j) {
        var out = [];
        for (var t = 0; t < flat[start[j] - 1]; t++) out.push(rsText(flat[start[j] + t]));
        return out;
      };
    }
    // measurements and suitabilities arrive as texts worded in Python (rules/wording.py); null = no data
    var m = S.m.map(function (col) { return decodeDict(col, n); });
    var s = S.s.map(function (col) { return decodeDict(col, n); });
    return {
      n: n, xy: c, score: score, verdict: verdict, rank: rank, radius: radius, fp: G, fpIndex: fpIndex,
      bbox: bbox, id: S.id, name: S.name === 'id' ? S.id : S.name, rec: S.rec === 'id' ? S.id : S.rec, dec: decodeDict(S.dec, n), stab: decodeDict(S.stab, n), reasons: reasons, m: m, s: s,
      index: new GridIndex(bbox, n)
    };
  }

  var SitesTiles = L.GridLayer.extend({
    options: { tileSize: 512, pane: 'ssSites', updateWhenZooming: false, keepBuffer: 3 },
    initialize: function (data, meta, options) {
      L.setOptions(this, options);
      this.D = data; this.meta = meta;
      this.visible = meta.verdicts.map(function () { return true; });
      this.colors = meta.verdicts.map(function (v) { return v.color; });
      this.strokes = meta.verdicts.map(function (v) { return v.stroke; });
      this.rgb = this.colors.map(rgb); this.strokeRgb = this.strokes.map(rgb);
      this.unscored = meta.verdicts.map(function (v) { return !!v.unscored; });
      this.drawn = new Uint8Array(data.n);
      this._density = {};
      this._buf = [];
    },
    /* Dot radius (meta.dots, as maplegend.dot_radius): small–large px by score, mid size for the verdicts
       whose score is no suitability, shrunk where sites are dense, never under dots.min. */
    radiusPx: function (i, z) {
      if (z === undefined) z = this._map ? this._map.getZoom() : this.meta.zf;
      var f = this._density[z];
      if (f === undefined) {
        var spacing = Math.sqrt(this.D.index.occupiedArea / Math.max(this.D.n, 1)) * 256 * Math.pow(2, z) / WORLD;
        f = this._density[z] = Math.max(0.3, Math.min(1, spacing / 14));
      }
      var sc = this.D.score[i], d = this.meta.dots;
      var t = this.unscored[this.D.verdict[i]] ? 0.5 : (sc ? Math.min(1, (sc - 1) / 1000) : 0);
      return Math.max(d.min, (d.small + (d.large - d.small) * t) * f);
    },
    footprints: function (z) { return z >= this.meta.zf; },
    /* A tile keeps its canvas and the sites it draws, so new verdicts repaint it in place (repaint). */
    createTile: function (coords) {
      var D = this.D, size = this.getTileSize().x, cc = newCanvas(size), T = tileFrame(coords, size), pad = 10 / T.s;
      var ids = D.index.query(T.x0 - pad, T.y1 - T.m - pad, T.x0 + T.m + pad, T.y1 + pad, this._buf);
      cc[0]._ss = { ctx: cc[1], coords: coords, ids: Uint32Array.from(ids) };
      this._mark(cc[0]._ss);
      this._paint(cc[0]._ss);
      return cc[0];
    },
    /* Every current tile redrawn into its own canvas from the sites it holds (new verdicts, scores): at
       once where the tile is on screen (a slider move), the rest of it when the map moves or 400 ms
       after the last repaint. */
    repaint: function () {
      var size = this.getTileSize().x, view = this._map ? this._getTiledPixelBounds(this._map.getCenter()) : null, self = this;
      if (view) view = L.bounds(view.min.subtract([2, 2]), view.max.add([2, 2]));  // the centre is floored
      this.drawn.fill(0);
      for (var key in this._tiles) {
        var t = this._tiles[key], ss = t.el._ss;
        if (!ss) continue;
        if (!t.current) { this._removeTile(key); continue; }  // a tile of another zoom, kept for the animation
        this._mark(ss);
        var c = view ? [Math.max(0, view.min.x - ss.coords.x * size), Math.max(0, view.min.y - ss.coords.y * size),
                        Math.min(size, view.max.x - ss.coords.x * size), Math.min(size, view.max.y - ss.coords.y * size)] : null;
        if (c && c[0] <= 0 && c[1] <= 0 && c[2] >= size && c[3] >= size) c = null;  // wholly on screen
        ss.stale = !!c;
        if (c && (c[2] <= c[0] || c[3] <= c[1])) continue;  // off screen: later
        this._paint(ss, c);
      }
      clearTimeout(this._later);
      if (this._map) {
        this._map.off('movestart', this._complete, this);
        this._map.once('movestart', this._complete, this);
        this._later = setTimeout(function () { self._complete(); }, 400);
      }
    },
    /* The parts of tiles a repaint left for later (off screen). */
    _complete: function () {
      clearTimeout(this._later);
      if (this._map) this._map.off('movestart', this._complete, this);
      for (var key in this._tiles) {
        var ss = this._tiles[key].el._ss;
        if (ss && ss.stale && this._tiles[key].current) { ss.stale = false; this._paint(ss); }
      }
    },
    /* Which sites a tile shows (``drawn``: for the tests and the page's counts). */
    _mark: function (tile) {
      var D = this.D, size = this.getTileSize().x, T = tileFrame(tile.coords, size), ids = tile.ids;
      for (var k = 0; k < ids.length; k++) {
        var i = ids[k], x = (D.xy[2 * i] - T.x0) * T.s, y = (T.y1 - D.xy[2 * i + 1]) * T.s;
        if (this.visible[D.verdict[i]] && x > -12 && x < size + 12 && y > -12 && y < size + 12) this.drawn[i] = 1;
      }
    },
    /* Paints a tile's sites into its canvas; ``clip`` [x0, y0, x1, y1] (CSS px): only that part of it. */
    _paint: function (tile, clip) {
      var D = this.D, size = this.getTileSize().x, ctx = tile.ctx, coords = tile.coords, ids = tile.ids;
      var T = tileFrame(coords, size), fpMode = this.footprints(coords.z), b = D.bbox;
      var c = clip ? [T.x0 + clip[0] / T.s - 12 / T.s, T.y1 - clip[3] / T.s - 12 / T.s, T.x0 + clip[2] / T.s + 12 / T.s, T.y1 - clip[1] / T.s + 12 / T.s] : null;
      var byRank = [[], [], [], [], []];
      for (var k = 0; k < ids.length; k++) {
        var f = ids[k];
        if (c && (b[4 * f] > c[2] || b[4 * f + 2] < c[0] || b[4 * f + 1] > c[3] || b[4 * f + 3] < c[1])) continue;
        if (this.visible[D.verdict[f]]) byRank[D.rank[f]].push(f);
      }
      if (clip) { ctx.save(); ctx.beginPath(); ctx.rect(clip[0], clip[1], clip[2] - clip[0], clip[3] - clip[1]); ctx.clip(); }
      ctx.clearRect(0, 0, size, size);
      var pix = new Pixels(size), vectors = [];
      for (var rk = 0; rk < byRank.length; rk++) {
        for (k = 0; k < byRank[rk].length; k++) {
          var i = byRank[rk][k], x = (D.xy[2 * i] - T.x0) * T.s, y = (T.y1 - D.xy[2 * i + 1]) * T.s;
          var vi = D.verdict[i], col = this.colors[vi];
          if (fpMode && (D.radius[i] > 0 || D.fpIndex[i] >= 0)) {
            var rr = D.radius[i] * T.s;
            if (rr > FP_SPRITE_MAX || !(rr > 0)) { vectors.push(i); continue; }  // polygons, wide circles
            var xd = x * DPR, yd = y * DPR, ox = Math.floor(xd), oy = Math.floor(yd);
            var fx = Math.round((xd - ox) * 4), fy = Math.round((yd - oy) * 4);
            if (fx === 4) { ox++; fx = 0; } if (fy === 4) { oy++; fy = 0; }
            pix.footprint(footprintSprite(Math.round(rr * DPR * 8), fx, fy, rr > 14), ox, oy, this.rgb[vi],
                          0.28 + 0.5 * (D.score[i] ? (D.score[i] - 1) / 1000 : 0), this.strokeRgb[vi]);
            continue;
          }
          var r = Math.round(this.radiusPx(i, coords.z) * 2) / 2;
          pix.stamp(sprite('site' + col + r, r, function (c, cx, cy, rr) {
            c.beginPath(); c.arc(cx, cy, rr, 0, 2 * Math.PI);
            c.fillStyle = col; c.globalAlpha = 0.95; c.fill();
            c.globalAlpha = 1; c.lineWidth = rr > 3 ? 1.2 : 0.8; c.strokeStyle = '#ffffff'; c.stroke();
          }), x, y);
        }
      }
      pix.paint(ctx, clip);
      for (k = 0; k < vectors.length; k++) {  // polygon and wide footprints, in draw order, over the pixels
        i = vectors[k]; x = (D.xy[2 * i] - T.x0) * T.s; y = (T.y1 - D.xy[2 * i + 1]) * T.s;
        vi = D.verdict[i]; col = this.colors[vi]; var stroke = this.strokes[vi];
        ctx.beginPath();
        if (D.radius[i] > 0) ctx.arc(x, y, D.radius[i] * T.s, 0, 2 * Math.PI);
        else trace(ctx, D.fp, D.fpIndex[i], T, true);
        var sc = D.score[i] ? (D.score[i] - 1) / 1000 : 0;
        ctx.globalAlpha = 0.28 + 0.5 * sc; ctx.fillStyle = col; ctx.fill('evenodd');
        ctx.globalAlpha = 1; ctx.lineWidth = 2; ctx.strokeStyle = stroke; ctx.stroke();
        if (D.radius[i] * T.s > 14 || D.fpIndex[i] >= 0) {
          ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 2 * Math.PI);
          ctx.fillStyle = stroke; ctx.fill();
        }
      }
      if (clip) ctx.restore();
    },
    /* The topmost visible site under a container point, or -1. */
    siteAt: function (cpt) {
      var map = this._map, D = this.D, z = map.getZoom();
      var p = L.CRS.EPSG3857.project(map.containerPointToLatLng(cpt));
      var mpp = WORLD / (256 * Math.pow(2, z)), tol = 9 * mpp, fpMode = this.footprints(z);
      var ids = D.index.query(p.x - tol, p.y - tol, p.x + tol, p.y + tol, this._buf);
      var best = -1, bestRank = -1, bestD = Infinity;
      for (var k = 0; k < ids.length; k++) {
        var i = ids[k];
        if (!this.visible[D.verdict[i]]) continue;
        var dx = D.xy[2 * i] - p.x, dy = D.xy[2 * i + 1] - p.y, d = Math.sqrt(dx * dx + dy * dy);
        var hit;
        if (fpMode && D.radius[i] > 0) hit = d <= D.radius[i] + 2 * mpp;
        else if (fpMode && D.fpIndex[i] >= 0) hit = inRings(D.fp, D.fpIndex[i], p.x, p.y) || d <= 4 * mpp;
        else hit = d <= (this.radiusPx(i) + 2) * mpp;
        if (hit && (D.rank[i] > bestRank || (D.rank[i] === bestRank && d < bestD))) { best = i; bestRank = D.rank[i]; bestD = d; }
      }
      return best;
    },
    latLng: function (i) {
      return L.CRS.EPSG3857.unproject(L.point(this.D.xy[2 * i], this.D.xy[2 * i + 1]));
    },
    setVisible: function (v, on) {
      if (this.visible[v] === on) return;
      this.visible[v] = on;
      this.drawn.fill(0);
      if (this._map) this.redraw();
    }
  });

  /* A layer-control entry that shows or hides one verdict of the sites layer. */
  var VerdictToggle = L.Layer.extend({
    initialize: function (sites, verdict) { this.sites = sites; this.v = verdict; },
    onAdd: function () { this.sites.setVisible(this.v, true); },
    onRemove: function () { this.sites.setVisible(this.v, false); }
  });

  // ---------------------------------------------------------------- popups
  function siteTooltip(S, i) {
    var v = S.meta.verdicts[S.D.verdict[i]];
    return '<div class="ss-tip"><b>' + esc(S.D.name[i] || S.D.id[i]) + '</b> <span class="ss-muted">' + esc(S.D.id[i]) +
      '</span><br><span class="ss-dot" style="background:' + v.color + '"></span>' + esc(v.label) +
      ' · score ' + scoreText(S.D, i) + '</div>';
  }
  function scoreText(D, i) { return D.score[i] ? ((D.score[i] - 1) / 10).toFixed(1) : '—'; }
  function measured(meta, t) {
    return t === null || t === undefined ? '<span class="ss-nodata">' + esc(meta.nodata) + '</span>' : esc(t);
  }
  function sitePopup(S, i) {
    var D = S.D, meta = S.meta, v = meta.verdicts[D.verdict[i]];
    var h = '<div class="ss-pop"><div class="ss-pop-head"><span class="ss-badge" style="background:' + v.color + '">' +
      esc(v.label) + '</span><span class="ss-pop-score">' + scoreText(D, i) + '<small>/100</small></span></div>' +
      '<div class="ss-pop-name">' + esc(D.name[i] || '(unnamed)') + '</div><div class="ss-pop-id">' + esc(D.id[i]) + '</div>';
    var rs = D.reasons ? D.reasons(i) : [];
    if (rs.length) {
      h += '<ul class="ss-reasons ss-reasons-' + esc(v.key) + '">';
      for (var k = 0; k < rs.length; k++) h += '<li>' + esc(rs[k]) + '</li>';
      h += '</ul>';
    }
    h += '<table class="ss-crit"><thead><tr><th>Criterion</th><th>Measured</th><th>Suitability</th><th>Effective weight</th></tr></thead><tbody>';
    for (var c = 0; c < meta.criteria.length; c++) {
      var C = meta.criteria[c], m = D.m[c] ? D.m[c](i) : null, s = D.s[c] ? D.s[c](i) : null;
      h += '<tr><td><div class="ss-clabel">' + esc(C.label) + '</div>' +
        (C.rule ? '<div class="ss-rule">' + esc(C.rule) + '</div>' : '') +
        (C.exclusion ? '<div class="ss-rule ss-excl">' + esc(C.exclusion) + '</div>' : '') +
        (C.safeguard ? '<div class="ss-safeguard">' + esc(C.safeguard) + '</div>' : '') +
        (C.source ? '<div class="ss-safeguard ss-source">source: ' + esc(C.source) + '</div>' : '') +
        (C.evaluated === false ? '<div class="ss-rule ss-status">' + (/^not evaluated/i.test(C.note || '') ? esc(C.note) :
          'not evaluated' + (C.note ? ': ' + esc(C.note) : '')) + '</div>' : '') +
        '</td><td class="ss-num">' + (C.evaluated === false ? esc(meta.notevaluated) : measured(meta, m)) + '</td><td class="ss-num">' +
        (s === null || s === undefined ? '—' : esc(s)) + '</td><td class="ss-num">' + esc(C.weight) + '</td></tr>';
    }
    h += '</tbody></table>';
    if (D.rec && D.rec[i]) h += '<div class="ss-records">Records: ' + esc(D.rec[i]) + '</div>';
    var dec = D.dec ? D.dec(i) : null;  // the reviewers' decisions, worded in Python (record/decisions.py)
    if (dec) h += '<div class="ss-decisions">Review decisions:<br>' + esc(dec).replace(/\n/g, '<br>') + '</div>';
    var stab = D.stab ? D.stab(i) : null;  // verdicts under sampled weightings, worded in Python (rules/wording.py)
    if (stab) h += '<div class="ss-stability">' + esc(stab.charAt(0).toUpperCase() + stab.slice(1)) + '</div>';
    return h + '</div>';
  }

  // ---------------------------------------------------------------- controls
  var Panel = L.Control.extend({
    initialize: function (html, cls, options) { L.setOptions(this, options); this.html = html; this.cls = cls; },
    onAdd: function () {
      var d = L.DomUtil.create('div', 'ss-panel ' + this.cls);
      d.innerHTML = this.html; // built and escaped in Python
      L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d);
      return d;
    }
  });

  var Fullscreen = L.Control.extend({
    options: { position: 'topleft' },
    onAdd: function (map) {
      var bar = L.DomUtil.create('div', 'leaflet-bar ss-fullscreen');
      var a = L.DomUtil.create('a', '', bar);
      a.href = '#'; a.title = 'Full screen'; a.setAttribute('role', 'button'); a.setAttribute('aria-label', 'Full screen');
      a.innerHTML = '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><path d="M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5" fill="none" stroke="currentColor" stroke-width="2"/></svg>';
      var el = map.getContainer();
      L.DomEvent.on(a, 'click', function (e) {
        L.DomEvent.preventDefault(e); L.DomEvent.stopPropagation(e);
        var full = document.fullscreenElement === el || L.DomUtil.hasClass(el, 'ss-pseudo-full');
        if (full) {
          if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen();
          L.DomUtil.removeClass(el, 'ss-pseudo-full');
        } else if (el.requestFullscreen) {
          el.requestFullscreen().catch(function () { L.DomUtil.addClass(el, 'ss-pseudo-full'); map.invalidateSize(); });
        } else { L.DomUtil.addClass(el, 'ss-pseudo-full'); }
        setTimeout(function () { map.invalidateSize(); }, 50);
      });
      document.addEventListener('fullscreenchange', function () { map.invalidateSize(); });
      return bar;
    }
  });

  var Search = L.Control.extend({
    options: { position: 'topleft' },
    initialize: function (S, options) { L.setOptions(this, options); this.S = S; },
    onAdd: function () {
      var S = this.S, box = L.DomUtil.create('div', 'ss-panel ss-search');
      var input = L.DomUtil.create('input', '', box), list = L.DomUtil.create('ul', 'ss-results', box);
      input.type = 'search'; input.placeholder = 'Find a site by id or name'; input.setAttribute('aria-label', 'Find a site by id or name');
      L.DomEvent.disableClickPropagation(box); L.DomEvent.disableScrollPropagation(box);
      var names = S.D.name, ids = S.D.id, lower = null, results = [], active = -1;
      function render() {
        list.innerHTML = '';
        results.forEach(function (i, k) {
          var li = L.DomUtil.create('li', k === active ? 'ss-active' : '', list);
          var v = S.meta.verdicts[S.D.verdict[i]];
          var dot = L.DomUtil.create('span', 'ss-dot', li); dot.style.background = v.color;
          L.DomUtil.create('span', 'ss-rname', li).textContent = names[i] || ids[i];
          L.DomUtil.create('span', 'ss-muted', li).textContent = ' ' + ids[i];
          L.DomEvent.on(li, 'mousedown', function (e) { L.DomEvent.preventDefault(e); choose(i); });
        });
      }
      function choose(i) { results = []; render(); input.value = names[i] || ids[i]; input.blur(); S.openSite(i, true); }
      function search() {
        var t = input.value.trim().toLowerCase();
        results = []; active = -1;
        if (t) {
          if (!lower) lower = names.map(function (s, i) { return ((s || '') + '\u0000' + ids[i]).toLowerCase(); });
          var exact = [], pre = [], sub = [];
          for (var i = 0; i < lower.length && exact.length + pre.length < 10; i++) {
            var s = lower[i], k = s.indexOf(t);
            if (k < 0) continue;
            if (String(ids[i]).toLowerCase() === t || (names[i] || '').toLowerCase() === t) exact.push(i);
            else if (k === 0 || s.charAt(k - 1) === '\u0000' || s.charAt(k - 1) === ' ') pre.push(i);
            else if (sub.length < 10) sub.push(i);
          }
          results = exact.concat(pre, sub).slice(0, 10);
        }
        render();
      }
      L.DomEvent.on(input, 'input', search);
      L.DomEvent.on(input, 'keydown', function (e) {
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          active = Math.max(0, Math.min(results.length - 1, active + (e.key === 'ArrowDown' ? 1 : -1))); render();
          L.DomEvent.preventDefault(e);
        } else if (e.key === 'Enter' && results.length) { choose(results[Math.max(active, 0)]); }
        else if (e.key === 'Escape') { results = []; render(); }
      });
      L.DomEvent.on(input, 'blur', function () { setTimeout(function () { results = []; render(); }, 150); });
      this.input = input;
      return box;
    }
  });

  // ---------------------------------------------------------------- public factories
  SS.layers = [];
  SS.featureLayer = function (map, dataId) {
    ensurePanes(map);
    var layer = new FeatureTiles(readJSON(dataId));
    mark('layer-decoded');
    SS.layers.push(layer);
    return layer;
  };

  SS.sitesLayer = function (map, dataId, metaId) {
    ensurePanes(map);
    var t0 = performance.now();
    var meta = readJSON(metaId), D = decodeSites(readJSON(dataId), meta);
    var layer = new SitesTiles(D, meta);
    var S = (SS.sites = { map: map, meta: meta, D: D, layer: layer, count: D.n, toggles: {} });
    S.decodeMs = performance.now() - t0;
    mark('sites-decoded');
    S.latLng = function (i) { return layer.latLng(i); };
    S.drawnCount = function () { var c = 0; for (var i = 0; i < D.n; i++) c += layer.drawn[i]; return c; };
    S.find = function (id) { return D.id.indexOf(id); };
    /* New verdicts (codes into meta.verdicts) and scores (payload encoding), e.g. from sitescreen-reweight.js. */
    S.restyle = function (verdict, score) {
      D.verdict.set(verdict); D.score.set(score);
      var ord = meta.verdicts.map(function (v) { return DRAW_ORDER.indexOf(v.key); });
      for (var i = 0; i < D.n; i++) D.rank[i] = ord[D.verdict[i]];
      if (layer._map) layer.repaint(); else layer.drawn.fill(0);
    };
    var highlight = null, tip = L.tooltip({ direction: 'top', offset: [0, -8], className: 'ss-tooltip', opacity: 1 });
    S.openSite = function (i, fly) {
      var ll = layer.latLng(i);
      var go = function () {
        L.popup({ maxWidth: 460, minWidth: 320, maxHeight: Math.max(240, map.getSize().y - 190), className: 'ss-popup',
                  autoPanPaddingTopLeft: [60, 150], autoPanPaddingBottomRight: [30, 30] })
          .setLatLng(ll).setContent(sitePopup(S, i)).openOn(map);
        if (highlight) map.removeLayer(highlight);
        highlight = L.circleMarker(ll, { pane: 'ssHighlight', radius: ringRadius(i), color: '#111827', weight: 2.5,
          fill: false, interactive: false, renderer: L.svg({ pane: 'ssHighlight' }) }).addTo(map);
        S.openIndex = i;
      };
      if (fly) {
        var z = Math.max(map.getZoom(), Math.min(meta.zf + 1, map.getMaxZoom()));
        map.once('moveend', go); map.setView(ll, z);
        if (map.getCenter().equals(ll) && map.getZoom() === z) { map.off('moveend', go); go(); }
      } else { go(); }
    };
    function ringRadius(i) {
      var z = map.getZoom(), r = layer.radiusPx(i) + 5;
      if (layer.footprints(z)) {  // a ring around the footprint
        var ppm = 256 * Math.pow(2, z) / WORLD, b = 4 * i;
        r = Math.max(r, Math.max(D.bbox[b + 2] - D.bbox[b], D.bbox[b + 3] - D.bbox[b + 1]) / 2 * ppm + 5);
      }
      return r;
    }
    map.on('zoomend', function () { if (highlight && S.openIndex >= 0) highlight.setRadius(ringRadius(S.openIndex)); });
    map.on('popupclose', function () { if (highlight) { map.removeLayer(highlight); highlight = null; } S.openIndex = -1; });
    // Hover is throttled to one look-up per 30 ms, and the last move of a burst is always looked up, so the
    // tooltip matches where the pointer came to rest.
    var pending = null, lastMove = null;
    map.on('mousemove', function (e) {
      lastMove = e;
      if (pending) return;
      hover(e);
      pending = setTimeout(function () { pending = null; if (lastMove && lastMove !== e) hover(lastMove); }, 30);
    });
    function hover(e) {
      var i = map.hasLayer(layer) ? layer.siteAt(e.containerPoint) : -1;
      map.getContainer().style.cursor = i >= 0 ? 'pointer' : '';
      if (i >= 0) { tip.setLatLng(layer.latLng(i)).setContent(siteTooltip(S, i)); if (!map.hasLayer(tip)) tip.addTo(map); }
      else if (map.hasLayer(tip)) map.removeLayer(tip);
    }
    map.on('mouseout', function () { lastMove = null; if (map.hasLayer(tip)) map.removeLayer(tip); });
    map.on('click', function (e) {
      var i = map.hasLayer(layer) ? layer.siteAt(e.containerPoint) : -1;
      if (map.hasLayer(tip)) map.removeLayer(tip);
      if (i >= 0) { S.openSite(i, false); return; }
      var p = L.CRS.EPSG3857.project(e.latlng), tol = 4 * WORLD / (256 * Math.pow(2, map.getZoom()));
      var rows = [];
      SS.layers.forEach(function (lyr) {
        if (!map.hasLayer(lyr)) return;
        var names = lyr.hits(p.x, p.y, tol);
        if (names.length) rows.push('<div class="ss-hit"><span class="ss-swatch" style="' + lyr.style.swatch + '"></span><b>' +
          esc(lyr.spec.name) + '</b>' + names.slice(0, 5).map(function (nm) { return nm ? '<div class="ss-hit-name">' + esc(nm) + '</div>' : ''; }).join('') +
          (names.length > 5 ? '<div class="ss-muted">+ ' + (names.length - 5) + ' more</div>' : '') + '</div>');
      });
      if (rows.length) L.popup({ className: 'ss-popup', maxWidth: 320 }).setLatLng(e.latlng).setContent('<div class="ss-pop">' + rows.join('') + '</div>').openOn(map);
    });
    layer.on('load', function () { if (!S.ready) mark('sites-drawn'); S.ready = true; });
    return layer;
  };

  SS.verdictToggle = function (sites, verdictKey, show) {
    var S = SS.sites, k = S.meta.verdicts.map(function (v) { return v.key; }).indexOf(verdictKey);
    var t = new VerdictToggle(sites, k);
    S.toggles[verdictKey] = t;
    if (!show) sites.setVisible(k, false);
    return t;
  };

  /* Runs right after the map is created, before any layer: the first tiles are drawn once. */
  SS.fitView = function (map, bounds, maxZoom) {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: maxZoom, animate: false });
    SS.zfit = map.getZoom();
  };

  // ---------------------------------------------------------------- legend beside the layer control
  var SMALL_MAP = [900, 700];  // below this width or height the legend starts collapsed
  function boxesMeet(a, b) {
    var r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    return r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom;
  }
  /* The legend never covers the layer control: folded when they meet at first (``fold``), and the
     control given only the room above the legend (it scrolls) when they still would. */
  function keepApart(map, legend, fold) {
    var lc = map.getContainer().querySelector('.leaflet-control-layers');
    if (!lc) return;
    lc.style.maxHeight = '';
    if (fold && boxesMeet(legend, lc)) fold();
    if (boxesMeet(legend, lc)) {
      var room = legend.getBoundingClientRect().top - lc.getBoundingClientRect().top - 10;
      lc.style.boxSizing = 'border-box'; lc.style.maxHeight = Math.max(room, 40) + 'px';
    }
  }

  SS.init = function (map, opts) {
    SS.map = map;
    var failed = document.getElementById('ss-noscript');  // "the map's scripts could not be loaded"
    if (failed) failed.parentNode.removeChild(failed);
    if (opts.title) new Panel(opts.title, 'ss-title', { position: 'topleft' }).addTo(map);
    if (SS.sites) { SS.search = new Search(SS.sites, { position: 'topleft' }).addTo(map); }
    if (map.zoomControl) { map.zoomControl.remove(); map.zoomControl = L.control.zoom({ position: 'topleft' }).addTo(map); }
    new Fullscreen().addTo(map);
    if (opts.legend) {
      var legend = new Panel(opts.legend, 'ss-legend', { position: 'bottomright' }).addTo(map), box = legend.getContainer();
      var btn = L.DomUtil.create('button', 'ss-collapse', box);
      btn.type = 'button'; btn.title = 'Hide or show the legend'; btn.setAttribute('aria-label', btn.title); btn.textContent = '−';
      var fold = function (on) {
        (on ? L.DomUtil.addClass : L.DomUtil.removeClass)(box, 'ss-collapsed');
        btn.textContent = on ? '+' : '−';
      };
      L.DomEvent.on(btn, 'click', function () { fold(!L.DomUtil.hasClass(box, 'ss-collapsed')); keepApart(map, box); });
      var size = map.getSize();
      if (size.x < SMALL_MAP[0] || size.y < SMALL_MAP[1]) fold(true);  // small screens: collapsed at first
      setTimeout(function () {  // the layer control is added after init
        keepApart(map, box, function () { fold(true); });
        SS.controlsApart = true;
      }, 0);
      map.on('resize', function () { keepApart(map, box); });
    }
    var warned = false;
    map.eachLayer(function (l) {
      if (l instanceof L.TileLayer) l.on('tileerror', function () {
        if (warned) return; warned = true;
        map.attributionControl.addAttribution('<span class="ss-offline">basemap unavailable (offline)</span>');
      });
    });
    SS.ready = true;
    mark('init');
  };
})();
