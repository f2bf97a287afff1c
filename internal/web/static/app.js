// breach: the pages' only script of our own. It keeps deadline countdowns
// current and gives htmx requests the session's CSRF token. Everything on the
// pages works without it; it is served from the binary like htmx itself.
(function () {
  'use strict';

  var words = {
    fr: { left: 'reste %s', overdue: 'en retard de %s', day: 'j' },
    en: { left: '%s left', overdue: 'overdue by %s', day: 'd' }
  };
  var lang = document.documentElement.lang === 'en' ? 'en' : 'fr';
  var w = words[lang];

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  // remaining says how long until (or since) a deadline: days, hours and
  // minutes, with seconds in the last day.
  function remaining(ms) {
    var late = ms < 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(s / 86400);
    var hours = Math.floor((s % 86400) / 3600);
    var mins = Math.floor((s % 3600) / 60);
    var secs = s % 60;
    var text;
    if (days > 0) {
      text = days + ' ' + w.day + ' ' + hours + ' h ' + pad(mins) + ' min';
    } else if (hours > 0) {
      text = hours + ' h ' + pad(mins) + ' min ' + pad(secs) + ' s';
    } else {
      text = mins + ' min ' + pad(secs) + ' s';
    }
    return (late ? w.overdue : w.left).replace('%s', text);
  }

  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll('[data-deadline]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var due = Date.parse(el.getAttribute('data-deadline'));
      if (isNaN(due)) { continue; }
      var ms = due - now;
      el.textContent = remaining(ms);
      el.classList.toggle('overdue', ms < 0);
      el.classList.toggle('soon', ms >= 0 && ms < 86400000);
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    tick();
    window.setInterval(tick, 1000);
  });
  document.addEventListener('htmx:afterSwap', tick);

  // An upload shows its progress in the form's progress bar.
  document.addEventListener('htmx:xhr:progress', function (e) {
    var bar = e.target.querySelector && e.target.querySelector('progress.upload');
    if (bar && e.detail.lengthComputable) {
      bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
    }
  });

  // htmx requests carry the session's synchronizer token as a header.
  document.addEventListener('htmx:configRequest', function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { e.detail.headers['X-CSRF-Token'] = meta.getAttribute('content'); }
  });
})();
