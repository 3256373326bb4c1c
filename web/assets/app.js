// bgpwatch newsroom page: vanilla JavaScript, no build step, no CDN.
// Reads the JSON API of the same origin; charts are the server's SVGs.
// Hash routes: #/ (countries), #/country/KZ?range=7d, #/event/123, #/asn/9198.
// All data is put into the page as text nodes (never as HTML), except the
// chart SVG, which the server renders with every text escaped.
'use strict';

(function () {
  const app = document.getElementById('app');
  const DAY = 86400000;
  const RANGES = [['1d', '24 h', DAY], ['3d', '3 days', 3 * DAY], ['7d', '7 days', 7 * DAY], ['30d', '30 days', 30 * DAY], ['90d', '90 days', 90 * DAY]];
  let generation = 0; // ignore answers for a page the reader has left

  // ---- helpers ----
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'on') { for (const [ev, f] of Object.entries(v)) el.addEventListener(ev, f); continue; }
      el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }
  class APIError extends Error {}
  async function api(path) {
    const res = await fetch(path, { headers: { Accept: 'application/json' } });
    if (!res.ok) {
      let msg = res.status + ' ' + res.statusText;
      try { const p = await res.json(); if (p.detail || p.title) msg = (p.title || '') + (p.detail ? ': ' + p.detail : ''); } catch (e) { /* not JSON */ }
      throw new APIError(msg);
    }
    return res.json();
  }
  const fmtDT = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const fmtNum = new Intl.NumberFormat('en-US');
  const when = (s) => (s ? fmtDT.format(new Date(s)) + ' UTC' : '');
  // Local time in an event's country (its main IANA zone, given by the API).
  const fmtLocal = {};
  function whenLocal(s, tz) {
    if (!s || !tz) return '';
    try {
      const f = fmtLocal[tz] || (fmtLocal[tz] = new Intl.DateTimeFormat('en-GB', { timeZone: tz, day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'shortOffset' }));
      return f.format(new Date(s)).replace('GMT', 'UTC') + ' ' + tz;
    } catch (_) { return ''; }
  }
  const whenBoth = (s, tz) => { const l = whenLocal(s, tz); return when(s) + (l ? ' (' + l + ')' : ''); };
  // An access type with the source it rests on and that source's date.
  const accessText = (x) => x.access + (x.access_source ? ' (' + x.access_source + (x.access_date ? ', ' + x.access_date : '') + ')' : '');
  // How much of the lost address space rests on each kind of source.
  const sourcesText = (m) => (m ? Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, v]) => k + ' ' + Math.round(v * 100) + '%').join(', ') : '');
  const num = (n) => (n === null || n === undefined ? '–' : fmtNum.format(n));
  const pct = (r) => Math.round(r * 100) + '%';
  const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
  let latestData = null; // the latest stored bin: "now" for replayed history
  function duration(a, b) {
    const end = b ? new Date(b) : latestData ? new Date(latestData) : new Date();
    const m = Math.round((end - new Date(a)) / 60000);
    if (m < 60) return m + ' min';
    const hh = Math.floor(m / 60), mm = m % 60;
    if (hh < 48) return hh + ' h' + (mm ? ' ' + mm + ' min' : '');
    return Math.floor(hh / 24) + ' d ' + (hh % 24) + ' h';
  }
  function change(now, base) {
    if (!base) return h('span', {}, '–');
    const r = now / base - 1;
    const t = (r > 0 ? '+' : r < 0 ? '−' : '±') + Math.abs(Math.round(r * 100)) + '%';
    return h('span', { class: r <= -0.2 ? 'drop' : r > 0.05 ? 'up' : '' }, t);
  }
  const status = (e) => h('span', { class: 'badge ' + e.status }, e.status);
  function who(e) {
    if (e.scope === 'asn') return h('a', { href: '#/asn/' + e.asn }, 'AS' + e.asn);
    return h('a', { href: '#/country/' + e.country }, e.country);
  }
  function show(...nodes) { app.replaceChildren(...nodes); window.scrollTo(0, 0); }
  function fail(err) { show(h('p', { class: 'error', role: 'alert' }, err instanceof APIError ? err.message : 'Could not load the data: ' + err)); }

  let countriesCache = null;
  async function countries() {
    if (!countriesCache) {
      countriesCache = api('/v1/countries').then((d) => {
        const cs = d.countries || [];
        latestData = cs.reduce((m, c) => (c.time > m ? c.time : m), '') || null;
        return cs;
      });
      countriesCache.catch(() => { countriesCache = null; });
    }
    return countriesCache;
  }
  async function countryName(cc) {
    try { const c = (await countries()).find((x) => x.code === cc); return c && c.name ? c.name : cc; } catch (e) { return cc; }
  }

  // chart fetches a server-rendered SVG and puts it inline, so the event
  // shadings can link to the event pages.
  function chart(url, caption) {
    const box = h('figure', { class: 'chart', 'data-src': url }, h('p', { class: 'loading' }, 'Drawing chart…'));
    fetch(url).then(async (res) => {
      if (!res.ok) {
        let msg = res.status + ' ' + res.statusText;
        try { const p = await res.json(); msg = p.detail || p.title || msg; } catch (e) { /* not JSON */ }
        throw new APIError(msg);
      }
      return res.text();
    }).then((text) => {
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      const svg = doc.documentElement;
      if (svg.nodeName !== 'svg') throw new Error('not an SVG');
      for (const s of svg.querySelectorAll('script, foreignObject')) s.remove();
      svg.removeAttribute('width'); svg.removeAttribute('height');
      const node = document.importNode(svg, true);
      for (const r of node.querySelectorAll('rect.event')) {
        r.addEventListener('click', () => { location.hash = '#/event/' + r.getAttribute('data-event-id'); });
      }
      box.replaceChildren(node);
    }).catch((err) => box.replaceChildren(h('p', { class: 'error' }, 'Chart: ' + (err.message || err))));
    const abs = new URL(url, location.href).href;
    const code = h('input', { readonly: true, value: '<img src="' + abs + '" alt="' + (caption || 'bgpwatch chart').replace(/"/g, '&quot;') + '" width="960">', 'aria-label': 'HTML to embed this chart' });
    return h('div', {},
      box,
      h('div', { class: 'embed' }, 'Embed:', code,
        h('button', { type: 'button', on: { click: () => { code.select(); navigator.clipboard && navigator.clipboard.writeText(code.value); } } }, 'Copy'),
        h('a', { href: url, target: '_blank', rel: 'noopener' }, 'Open SVG'),
        h('a', { href: url, download: 'bgpwatch-chart.svg' }, 'Download')));
  }

  function eventsTable(events, opts) {
    opts = opts || {};
    if (!events.length) return h('p', { class: 'note' }, opts.empty || 'No events detected in this period.');
    return h('table', { class: 'events' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'Ended'), h('th', {}, 'Duration'), h('th', {}, 'Scope'), h('th', {}, 'Access'),
        h('th', { class: 'num' }, '/24s before → low'), h('th', { class: 'num' }, 'Drop'), h('th', {}, ''))),
      h('tbody', {}, events.map((e) => h('tr', { class: e.status },
        h('td', {}, h('a', { href: '#/event/' + e.id }, when(e.started_at)), e.time_zone ? h('div', { class: 'local' }, whenLocal(e.started_at, e.time_zone)) : null),
        h('td', {}, e.ended_at ? when(e.ended_at) : status(e)),
        h('td', {}, duration(e.started_at, e.ended_at) + (e.ended_at ? '' : ' so far')),
        h('td', {}, e.scope === 'country' ? ['Country ', who(e)] : [who(e), ' (', e.country, ')']),
        h('td', {}, e.access),
        h('td', { class: 'num' }, num(e.baseline_slash24) + ' → ' + num(e.min_slash24)),
        h('td', { class: 'num drop' }, '−' + pct(e.drop_ratio)),
        h('td', {}, h('a', { href: '#/event/' + e.id }, 'Evidence ›'))))));
  }

  // ---- pages ----
  async function pageHome(gen) {
    const [cs, evs] = await Promise.all([countries(), api('/v1/events?limit=100')]);
    if (gen !== generation) return;
    const ongoing = new Set(evs.events.filter((e) => e.status === 'ongoing').map((e) => e.country));
    const last = new Map();
    for (const e of evs.events) if (!last.has(e.country)) last.set(e.country, e);
    const rows = cs.slice().sort((a, b) => (ongoing.has(b.code) - ongoing.has(a.code)) || (last.has(b.code) - last.has(a.code)) || b.visible_slash24 - a.visible_slash24);
    const tbody = h('tbody');
    function fill(filter) {
      const f = filter.trim().toLowerCase();
      tbody.replaceChildren(...rows.filter((c) => !f || c.code.toLowerCase().includes(f) || (c.name || '').toLowerCase().includes(f)).map((c) => {
        const e = last.get(c.code);
        return h('tr', { class: ongoing.has(c.code) ? 'ongoing country' : 'country', 'data-cc': c.code },
          h('td', {}, h('a', { href: '#/country/' + c.code }, c.name || c.code), ' ', h('span', { class: 'note' }, c.code)),
          h('td', { class: 'num' }, num(c.visible_slash24)),
          h('td', { class: 'num' }, num(c.visible_prefixes)),
          h('td', { class: 'num' }, num(c.visible_v6_prefixes)),
          h('td', { class: 'num' }, num(c.asns)),
          h('td', {}, when(c.time)),
          h('td', {}, e ? [h('a', { href: '#/event/' + e.id }, when(e.started_at)), ' ', status(e)] : ''));
      }));
    }
    fill('');
    const latest = cs.reduce((m, c) => (c.time > m ? c.time : m), '');
    show(
      h('h1', {}, 'Routed address space by country'),
      h('p', { class: 'sub' }, 'Current visibility in global BGP routing' + (latest ? ', as of ' + when(latest) : '') + '. Countries with an ongoing shutdown come first.'),
      h('h2', {}, 'Latest nationwide events'),
      eventsTable(evs.events.filter((e) => e.scope === 'country').slice(0, 8), { empty: 'No nationwide shutdown events detected yet.' }),
      h('h2', {}, 'Countries'),
      h('div', { class: 'filter' }, h('input', { type: 'search', placeholder: 'Filter: name or code', 'aria-label': 'Filter countries', on: { input: (ev) => fill(ev.target.value) } })),
      h('table', { class: 'countries' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Country'), h('th', { class: 'num' }, 'Visible /24s'), h('th', { class: 'num' }, 'IPv4 prefixes'),
          h('th', { class: 'num' }, 'IPv6 prefixes'), h('th', { class: 'num' }, 'Networks'), h('th', {}, 'As of'), h('th', {}, 'Latest event'))),
        tbody));
  }

  // rangeOf resolves ?range= or ?from=&to= against the latest data time.
  function rangeOf(params, latest) {
    const end = latest ? Date.parse(latest) : Date.now();
    if (params.get('from') && params.get('to')) {
      const f = Date.parse(params.get('from')), t = Date.parse(params.get('to'));
      if (f < t) return { key: 'custom', from: f, to: t };
    }
    const key = params.get('range') || '7d';
    const r = RANGES.find((x) => x[0] === key) || RANGES[2];
    return { key: r[0], from: end - r[2], to: end };
  }

  function rangeBar(base, cur) {
    const toLocal = (ms) => iso(ms).slice(0, 16);
    const from = h('input', { type: 'datetime-local', value: toLocal(cur.from), 'aria-label': 'From (UTC)' });
    const to = h('input', { type: 'datetime-local', value: toLocal(cur.to), 'aria-label': 'To (UTC)' });
    return h('div', { class: 'ranges' }, 'Range:',
      RANGES.map(([k, label]) => h('a', { href: base + '?range=' + k, class: cur.key === k ? 'on' : '' }, label)),
      h('form', { on: { submit: (ev) => { ev.preventDefault(); location.hash = base + '?from=' + encodeURIComponent(from.value + ':00Z') + '&to=' + encodeURIComponent(to.value + ':00Z'); } } },
        from, '–', to, 'UTC', h('button', { type: 'submit' }, 'Show')));
  }

  async function pageCountry(gen, cc, params) {
    cc = cc.toUpperCase();
    const cs = await countries();
    const c = cs.find((x) => x.code === cc);
    const name = c && c.name ? c.name : cc;
    const r = rangeOf(params, c && c.time);
    const q = 'from=' + iso(r.from) + '&to=' + iso(r.to);
    const head = [
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Countries'), ' › ', name),
      h('h1', {}, name + ' (' + cc + ')'),
      h('p', { class: 'sub' }, c ? 'Now: ' + num(c.visible_slash24) + ' visible /24s, ' + num(c.visible_prefixes) + ' IPv4 and ' + num(c.visible_v6_prefixes) + ' IPv6 prefixes from ' + num(c.asns) + ' networks (' + when(c.time) + ').' : 'No series stored for this country.'),
      rangeBar('#/country/' + cc, r),
      chart('/v1/countries/' + cc + '/chart.svg?' + q, name + ': routed IPv4 address space'),
    ];
    show(...head, h('p', { class: 'loading' }, 'Loading events and networks…'));
    const [evs, nets] = await Promise.all([
      api('/v1/events?country=' + cc + '&' + q + '&limit=200'),
      api('/v1/countries/' + cc + '/asns?at=' + iso(r.to)).catch((err) => ({ error: err })),
    ]);
    if (gen !== generation) return;
    // The lowest /24s of each network in this period's events.
    const low = new Map();
    for (const e of evs.events) {
      for (const a of e.asns) if (!low.has(a.asn) || a.min_slash24 < low.get(a.asn).min) low.set(a.asn, { min: a.min_slash24, event: e.id });
    }
    const own = evs.events.filter((e) => e.scope === 'country');
    const netEvents = evs.events.filter((e) => e.scope !== 'country');
    show(...head,
      h('h2', {}, 'Nationwide events'),
      eventsTable(own, { empty: 'No nationwide events detected in this period.' }),
      netEvents.length ? h('details', { class: 'netevents' }, h('summary', {}, 'Events of single networks (' + netEvents.length + ')'), eventsTable(netEvents)) : null,
      h('h2', {}, 'Networks'),
      networksTable(cc, nets, low));
  }

  // networksTable lists the networks of a country (GET /v1/countries/{cc}/asns,
  // largest first): the first 50, the rest on demand.
  function networksTable(cc, nets, low) {
    if (nets.error) return h('p', { class: 'note' }, 'Networks: ' + (nets.error.message || nets.error));
    const list = nets.asns;
    if (!list.length) return h('p', { class: 'note' }, 'No networks are registered to this country.');
    const hours = nets.time && nets.baseline_from ? Math.round((Date.parse(nets.time) - Date.parse(nets.baseline_from)) / 3600000) : 0;
    const FIRST = 50;
    const row = (n) => {
      const l = low.get(n.asn);
      return h('tr', { 'data-asn': n.asn },
        h('td', {}, h('a', { href: '#/asn/' + n.asn }, 'AS' + n.asn)),
        h('td', { class: 'name' }, n.name),
        h('td', {}, accessText(n)),
        h('td', { class: 'num' }, num(n.visible_slash24)),
        h('td', { class: 'num' }, num(n.baseline_slash24)),
        h('td', { class: 'num' }, change(n.visible_slash24, n.baseline_slash24)),
        h('td', { class: 'num' }, num(n.visible_prefixes)),
        h('td', { class: 'num' }, num(n.visible_v6_prefixes)),
        h('td', {}, n.event_id ? h('a', { href: '#/event/' + n.event_id, class: 'drop' }, 'in an event ›')
          : l ? h('a', { href: '#/event/' + l.event }, 'lowest ' + num(l.min) + ' /24s') : ''));
    };
    const tbody = h('tbody', {}, list.slice(0, FIRST).map(row));
    const more = list.length > FIRST ? h('button', { type: 'button', class: 'more', on: { click: () => { tbody.replaceChildren(...list.map(row)); more.remove(); } } }, 'Show all ' + num(list.length)) : null;
    const csv = '/v1/countries/' + cc + '/asns?' + (nets.time ? 'at=' + encodeURIComponent(nets.time) + '&' : '') + 'format=csv';
    return h('div', {},
      h('p', { class: 'note' }, num(list.length) + ' networks registered to this country' + (nets.time ? ', as of ' + when(nets.time) : '') +
        ', largest first.' + (hours ? ' Baseline: the median of the ' + hours + ' hours before, leaving out a network\'s own events, as the detector does; during such an event, the level before it.' : '') + ' ',
        h('a', { href: csv, download: 'bgpwatch-' + cc + '-networks.csv' }, 'Download CSV')),
      h('table', { class: 'asns' },
        h('thead', {}, h('tr', {}, h('th', {}, 'ASN'), h('th', {}, 'Name'), h('th', {}, 'Access'), h('th', { class: 'num' }, 'Visible /24s'),
          h('th', { class: 'num' }, 'Baseline /24s'), h('th', { class: 'num' }, 'Now vs baseline'), h('th', { class: 'num' }, 'IPv4 prefixes'),
          h('th', { class: 'num' }, 'IPv6 prefixes'), h('th', {}, 'Events in period'))),
        tbody),
      more);
  }

  async function pageEvent(gen, id) {
    const e = await api('/v1/events/' + encodeURIComponent(id));
    if (gen !== generation) return;
    const cname = await countryName(e.country);
    const subject = e.scope === 'asn' ? 'AS' + e.asn + ' (' + cname + ')' : cname + ' (' + e.country + ')';
    const start = Date.parse(e.started_at), end = e.ended_at ? Date.parse(e.ended_at) : null;
    const span = (end || start + DAY) - start;
    const pad = Math.max(12 * 3600000, Math.min(span, 2 * DAY));
    const latest = (await countries()).reduce((m, c) => (c.time > m ? c.time : m), '');
    let to = (end || Date.now()) + pad;
    if (latest && Date.parse(latest) < to) to = Math.max(Date.parse(latest), (end || start) + 3600000);
    const q = 'from=' + iso(start - Math.max(pad, DAY)) + '&to=' + iso(to);
    const chartURL = e.scope === 'asn' ? '/v1/asns/' + e.asn + '/chart.svg?' + q : '/v1/countries/' + e.country + '/chart.svg?' + q;
    const pfx = await api('/v1/events/' + e.id + '/prefixes?limit=200');
    if (gen !== generation) return;
    show(
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Countries'), ' › ', h('a', { href: '#/country/' + e.country }, cname), ' › event ' + e.id),
      h('h1', {}, subject + ': ' + (e.scope === 'asn' ? 'network' : 'nationwide') + ' loss of routes'),
      h('p', { class: 'sub' }, whenBoth(e.started_at, e.time_zone) + (e.ended_at ? ' to ' + whenBoth(e.ended_at, e.time_zone) : ' – ongoing'), ' ', status(e)),
      e.time_zones > 1 ? h('p', { class: 'note' }, 'Local times are in ' + e.time_zone + ', the main of ' + e.country + '\'s ' + e.time_zones + ' time zones.') : null,
      e.users_note ? h('p', { class: 'users' }, e.users_note[0].toUpperCase() + e.users_note.slice(1) + ' were cut off (each network counted with the share of its address space lost).') : null,
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, 'Drop'), h('dd', { class: 'drop' }, '−' + pct(e.drop_ratio))),
        h('div', {}, h('dt', {}, 'Visible /24s'), h('dd', {}, num(e.baseline_slash24) + ' → ' + num(e.min_slash24))),
        h('div', {}, h('dt', {}, 'Duration'), h('dd', {}, duration(e.started_at, e.ended_at) + (e.ended_at ? '' : ' so far'))),
        h('div', {}, h('dt', {}, 'Access'), h('dd', {}, e.access, e.access_sources ? h('div', { class: 'note' }, 'lost space by source: ' + sourcesText(e.access_sources)) : null)),
        e.users_estimate !== undefined ? h('div', {}, h('dt', {}, 'Users cut off'), h('dd', {}, '≈ ' + num(e.users_estimate) + ' (' + Math.round(e.users_share * 100) + '%)')) : null,
        h('div', {}, h('dt', {}, 'Networks'), h('dd', {}, num(e.asns.length))),
        h('div', {}, h('dt', {}, 'Withdrawn prefixes'), h('dd', {}, num(e.withdrawn_prefixes)))),
      chart(chartURL, subject + ': routed IPv4 address space'),
      h('h2', {}, 'Contributing networks'),
      e.asns.length ? h('table', { class: 'asns' },
        h('thead', {}, h('tr', {}, h('th', {}, 'ASN'), h('th', {}, 'Name'), h('th', {}, 'Access'), h('th', { class: 'num' }, 'Baseline /24s'), h('th', { class: 'num' }, 'Lowest /24s'), h('th', { class: 'num' }, 'Change'))),
        h('tbody', {}, e.asns.map((a) => h('tr', {},
          h('td', {}, h('a', { href: '#/asn/' + a.asn }, 'AS' + a.asn)), h('td', {}, a.name), h('td', {}, accessText(a)),
          h('td', { class: 'num' }, num(a.baseline_slash24)), h('td', { class: 'num' }, num(a.min_slash24)),
          h('td', { class: 'num' }, change(a.min_slash24, a.baseline_slash24)))))) : h('p', { class: 'note' }, 'No contributing networks recorded.'),
      h('h2', {}, 'Withdrawn prefixes'),
      h('p', { class: 'note' }, 'Evidence: prefixes that stopped being visible during the event. ',
        h('a', { href: '/v1/events/' + e.id + '/prefixes?format=csv&limit=1000', download: 'bgpwatch-event-' + e.id + '-prefixes.csv' }, 'Download CSV'),
        e.withdrawn_prefixes > 1000 ? ' (first 1,000; the Link header of the response points to the next page)' : '',
        ' · ', h('a', { href: '/v1/events/' + e.id }, 'Event JSON')),
      pfx.prefixes.length ? h('table', { class: 'prefixes' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Prefix'), h('th', {}, 'Origin'), h('th', {}, 'Withdrawn at'))),
        h('tbody', {}, pfx.prefixes.map((p) => h('tr', {},
          h('td', { class: 'mono' }, p.prefix), h('td', {}, h('a', { href: '#/asn/' + p.origin_asn }, 'AS' + p.origin_asn)), h('td', {}, when(p.withdrawn_at)))))) : h('p', { class: 'note' }, 'No withdrawn prefixes stored.'),
      pfx.next_cursor ? h('p', { class: 'note' }, 'Showing the first ' + pfx.prefixes.length + ' of ' + num(e.withdrawn_prefixes) + '; download the CSV for more.') : null);
  }

  async function pageASN(gen, asn, params) {
    const a = await api('/v1/asns/' + encodeURIComponent(asn));
    if (gen !== generation) return;
    const r = rangeOf(params, a.time);
    const q = 'from=' + iso(r.from) + '&to=' + iso(r.to);
    const cname = a.country ? await countryName(a.country) : '';
    const evs = await api('/v1/events?asn=' + a.asn + '&' + q + '&limit=200');
    if (gen !== generation) return;
    show(
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Countries'), a.country ? [' › ', h('a', { href: '#/country/' + a.country }, cname)] : '', ' › AS' + a.asn),
      h('h1', {}, 'AS' + a.asn + (a.name ? ' ' + a.name : '')),
      h('p', { class: 'sub' }, [cname, accessText(a) + ' access', a.users_estimate !== undefined ? '≈ ' + num(a.users_estimate) + ' users (' + Math.round(a.users_share * 100) + '% of the country, ' + a.users_source.toUpperCase() + ' ' + a.users_date + ')' : '', a.time ? 'now ' + num(a.visible_slash24) + ' visible /24s, ' + num(a.visible_prefixes) + ' IPv4 prefixes (' + when(a.time) + ')' : 'no series stored'].filter(Boolean).join(' · ')),
      rangeBar('#/asn/' + a.asn, r),
      chart('/v1/asns/' + a.asn + '/chart.svg?' + q, 'AS' + a.asn + ': routed IPv4 address space'),
      h('h2', {}, 'Events involving this network'),
      eventsTable(evs.events));
  }

  async function route() {
    const gen = ++generation;
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path, query] = raw.split('?');
    const params = new URLSearchParams(query || '');
    const parts = path.split('/').filter(Boolean);
    try {
      if (parts.length === 0) await pageHome(gen);
      else if (parts[0] === 'country' && /^[A-Za-z]{2}$/.test(parts[1] || '')) await pageCountry(gen, parts[1], params);
      else if (parts[0] === 'event' && /^\d+$/.test(parts[1] || '')) await pageEvent(gen, parts[1]);
      else if (parts[0] === 'asn' && /^(AS)?\d+$/i.test(parts[1] || '')) await pageASN(gen, parts[1].replace(/^AS/i, ''), params);
      else show(h('p', { class: 'error' }, 'No such page. '), h('a', { href: '#/' }, 'Back to the country list'));
    } catch (err) {
      if (gen === generation) fail(err);
    }
  }
  window.addEventListener('hashchange', route);
  route();
})();
