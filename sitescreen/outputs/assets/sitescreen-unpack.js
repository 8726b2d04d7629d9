/* sitescreen packed data (sitescreen/outputs/packing.py): big JSON data elements are written as
 * base64 of their gzip; sitescreen.unpack decompresses them with the browser's own
 * DecompressionStream (no library, no network), then runs the page's script held in the start
 * element. SS.readJSON(id) gives a data element's JSON, packed or not. */
(function () {
  'use strict';
  var SS = (window.sitescreen = window.sitescreen || {});
  var PACKED = 'application/x-sitescreen-gzip', texts = {};

  SS.readJSON = function (id) {
    var el = document.getElementById(id);
    if (el && el.type === PACKED) {
      if (!Object.prototype.hasOwnProperty.call(texts, id)) throw new Error('sitescreen: packed data "' + id + '" was not unpacked or was read already');
      var t = texts[id];
      delete texts[id];  // read once: the decoded arrays are kept, not the text
      return JSON.parse(t);
    }
    return JSON.parse(el.textContent);
  };

  function bytes(b64) {
    var bin = atob(b64), n = bin.length, out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  SS.gunzip = function (b64) {  // a Promise of the text
    return new Response(new Blob([bytes(b64)]).stream().pipeThrough(new DecompressionStream('gzip'))).text();
  };

  SS.unpack = function (startId, failedText) {
    var start = document.getElementById(startId);
    var packed = Array.prototype.slice.call(document.querySelectorAll('script[type="' + PACKED + '"]'));
    var run = function () {
      var s = document.createElement('script');
      s.text = start.textContent;
      start.parentNode.removeChild(start);
      document.body.appendChild(s);
    };
    var fail = function (err) {
      var box = document.getElementById('ss-noscript');
      if (box) box.textContent = failedText + (err ? ' (' + err + ')' : '');
      if (window.console) console.error('sitescreen: ' + failedText, err);
    };
    if (!packed.length) return run();
    if (typeof DecompressionStream === 'undefined' || typeof Response === 'undefined' || typeof Blob === 'undefined' ||
        !Blob.prototype.stream) return fail();
    var t0 = performance.now();
    Promise.all(packed.map(function (el) {
      var p = SS.gunzip(el.textContent).then(function (t) { texts[el.id] = t; });
      el.textContent = '';  // the base64 is not needed once its bytes are taken
      return p;
    })).then(function () { SS.unpackMs = performance.now() - t0; run(); }, function (e) { fail(String(e)); });
  };
})();
