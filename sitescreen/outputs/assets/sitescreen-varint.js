/* sitescreen payload decoding shared by the map (sitescreen-map.js) and the re-weight panel
 * (sitescreen-reweight.js, in the map and in the report): unsigned varints, 5 bits a character
 * (Google polyline alphabet, 63..126), as sitescreen/outputs/payload.py writes them. */
(function () {
  'use strict';
  var SS = (window.sitescreen = window.sitescreen || {});
  SS.decodeU = function (str, n) {
    var out = new Float64Array(n), k = 0, v = 0, f = 1;
    for (var i = 0, L = str.length; i < L; i++) {
      var c = str.charCodeAt(i) - 63;
      v += (c & 31) * f;
      if (c & 32) { f *= 32; } else { out[k++] = v; v = 0; f = 1; }
    }
    return out;
  };
})();
