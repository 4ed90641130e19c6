/*
 * chat.js: the Switchyard chat demo page (static/index.html).
 *
 * Every request goes through io.socket (static/io-socket.js) as a Sails-style virtual request;
 * the only plain socket.io emit is `typing`. The server's routes and events are described in
 * src/demo/. User text is only ever put in the page with textContent (never innerHTML).
 *
 * ?transport=polling uses HTTP long-polling only; otherwise WebSocket only.
 */
(function () {
  'use strict';

  var MAX_NICK = 32;
  var MAX_TEXT = 2000;
  var CHANNEL_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
  var TYPING_EVERY_MS = 2000; // emit `typing` at most this often
  var TYPING_SHOWN_MS = 3000; // a hint disappears this long after the last `typing`
  var KEEP_MESSAGES = 200; // per channel, in memory
  var STORE_NICK = 'switchyard.nick';
  var STORE_CHANNELS = 'switchyard.channels';
  var STORE_CURRENT = 'switchyard.current';
  // Private conversations are kept in this browser only (the server keeps none): under the own
  // nickname, at most KEEP_PRIVATE messages each and MAX_CONVERSATIONS conversations.
  var STORE_CONVERSATIONS = 'switchyard.conversations.';
  var KEEP_PRIVATE = 200;
  var MAX_CONVERSATIONS = 50;

  // ---------------------------------------------------------------------------------------------
  // Connecting: io-socket.js is loaded with data-autoconnect="false" so that the transport is
  // settled before io.socket connects, whichever runs first (its load tick or this script).

  var params = new URLSearchParams(location.search);
  var TRANSPORTS = params.get('transport') === 'polling' ? ['polling'] : ['websocket'];
  io.sails.transports = TRANSPORTS;
  io.sails.environment = 'production'; // no io-socket.js chatter in the console
  if (io.socket && io.socket.mightBeAboutToAutoConnect()) {
    io.sails.autoConnect = true; // its load tick has not run: it connects io.socket with our settings
  } else {
    io.socket = io.sails.connect(); // its load tick ran (and dropped io.socket): connect our own
  }
  var socket = io.socket;

  // ---------------------------------------------------------------------------------------------
  // Small DOM helpers (text only)

  function $(id) { return document.getElementById(id); }

  /** el('li', {className: 'x', dataset: {a: 'b'}}, 'text', childNode, ...): children as text or nodes. */
  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      for (var k in props) {
        if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
        var v = props[k];
        if (k === 'dataset') for (var d in v) node.dataset[d] = v[d];
        else if (k === 'text') node.textContent = v;
        else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), v);
        else if (k === 'className' || k === 'title' || k === 'type' || k === 'hidden') node[k] = v;
        else node.setAttribute(k, v);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function hhmm(ms) { var d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()); }

  /** Length in Unicode scalar values, as the server counts. */
  function charLength(s) { return Array.from(s).length; }

  function store(key, value) {
    try {
      if (value === null || value === undefined) localStorage.removeItem(key);
      else localStorage.setItem(key, typeof value === 'string' ? value : JSON.stringify(value));
    } catch (e) { /* private mode: nothing remembered */ }
  }
  function load(key, json) {
    try {
      var v = localStorage.getItem(key);
      return json ? (v ? JSON.parse(v) : null) : v;
    } catch (e) { return null; }
  }

  // A colour per nick, stable across reloads.
  function hue(nick) {
    var h = 0;
    var s = String(nick).toLowerCase();
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  var state = {
    conn: 'connecting', // connecting | connected | reconnecting | offline
    everConnected: false,
    epoch: 0, // +1 per connection: answers of an older connection are ignored
    nick: null, // registered on this connection
    wantedNick: load(STORE_NICK), // remembered
    channels: [], // [{name, members, messages}] from GET /channels
    joined: new Map(), // name -> {messages: [], members: [], unread: 0, ready: bool}
    current: null,
    conversations: new Map(), // lower-cased nick -> {nick, messages: [{from, to, text, time}], unread, last}
    pm: null, // the open conversation's key (a channel is shown when null)
    typing: new Map(), // channel -> Map(nick -> timer)
    lastTypingSent: 0,
    nickRetry: null,
    nickTyped: false // wantedNick was typed while not connected (not remembered)
  };
  var storedChannels = load(STORE_CHANNELS, true);
  (storedChannels || []).forEach(function (name) {
    if (typeof name === 'string' && CHANNEL_RE.test(name)) state.joined.set(name, channelState());
  });
  // Left every channel (an empty list remembered, not none at all): a reconnect or a reload
  // keeps it so, rather than putting the user back into #general.
  state.leftAll = Array.isArray(storedChannels) && storedChannels.length === 0;
  state.current = load(STORE_CURRENT);

  function channelState() { return { messages: [], members: [], unread: 0, ready: false }; }

  function remember() {
    store(STORE_CHANNELS, Array.from(state.joined.keys()));
    store(STORE_CURRENT, state.current);
  }

  // ---------------------------------------------------------------------------------------------
  // Private conversations: one per person, kept like a channel's history (bounded)

  function convKey(nick) { return String(nick).toLowerCase(); }

  /** The conversations kept for our nickname, once the server has accepted it. */
  function loadConversations() {
    state.conversations = new Map();
    var saved = load(STORE_CONVERSATIONS + convKey(state.nick), true);
    (Array.isArray(saved) ? saved : []).forEach(function (c) {
      if (!c || typeof c.nick !== 'string' || !Array.isArray(c.messages)) return;
      var messages = c.messages.filter(function (m) {
        return m && typeof m.from === 'string' && typeof m.to === 'string' && typeof m.text === 'string';
      }).slice(-KEEP_PRIVATE);
      state.conversations.set(convKey(c.nick), {
        nick: c.nick, messages: messages, unread: Math.max(0, c.unread | 0), last: Number(c.last) || 0
      });
    });
    if (state.pm && !state.conversations.has(state.pm)) state.pm = null;
  }

  function saveConversations() {
    if (state.nick) store(STORE_CONVERSATIONS + convKey(state.nick), Array.from(state.conversations.values()));
  }

  /** The conversation with `nick`, made if new; the least recently active one goes past the bound. */
  function conversation(nick) {
    var key = convKey(nick);
    var c = state.conversations.get(key);
    if (c) {
      c.nick = nick; // as the server spells it now
      return c;
    }
    c = { nick: nick, messages: [], unread: 0, last: Date.now() };
    state.conversations.set(key, c);
    if (state.conversations.size > MAX_CONVERSATIONS) {
      var oldest = null;
      state.conversations.forEach(function (o, k) {
        if (k !== key && k !== state.pm && (!oldest || o.last < state.conversations.get(oldest).last)) oldest = k;
      });
      if (oldest) state.conversations.delete(oldest);
    }
    return c;
  }

  /** Files a private message (sent or received) in its conversation, and keeps it. */
  function addPrivate(pm) {
    var other = pm.from === state.nick ? pm.to : pm.from;
    var c = conversation(other);
    c.messages.push(pm);
    if (c.messages.length > KEEP_PRIVATE) c.messages.splice(0, c.messages.length - KEEP_PRIVATE);
    c.last = Math.max(c.last, pm.time || 0);
    saveConversations();
    return c;
  }

  function openConversation(nick) {
    closeDrawer();
    var c = conversation(nick);
    c.unread = 0;
    state.pm = convKey(nick);
    saveConversations();
    renderAll();
    focusComposer();
  }

  function closeConversation() {
    if (!state.pm) return;
    state.pm = null;
    renderAll();
  }

  function openConversationState() { return state.pm && state.conversations.get(state.pm); }

  // ---------------------------------------------------------------------------------------------
  // Requests: io.socket virtual requests as promises of {status, body}

  function request(method, url, data) {
    var epoch = state.epoch;
    return new Promise(function (resolve) {
      socket[method](url, data || {}, function (body, jwr) {
        resolve({ status: jwr ? jwr.statusCode : 0, body: body, stale: epoch !== state.epoch });
      });
    });
  }

  /** The server's refusals (its API's short reasons), as sentences a person reads. */
  var REFUSALS = {
    'nickname taken': 'That nickname is taken. Pick another one.',
    'the nickname is empty': 'Type a nickname first.',
    'the nickname is over 32 characters': 'A nickname has at most 32 characters.',
    'the nickname has control characters': 'A nickname cannot contain control characters.',
    'the message is empty': 'The message is empty: type something first.',
    'the message is over 2000 characters': 'The message is too long: at most 2,000 characters.',
    'no such user': 'Nobody by that name is online.',
    'no such channel': 'That channel does not exist (any more).',
    'the channel exists': 'That channel exists already: join it instead.',
    'too many channels': 'There are too many channels already. Join one of them.',
    'pick a nickname first': 'Pick a nickname first.',
    'join the channel first': 'Join the channel first.',
    'slow down': 'Slow down: you are sending too fast. Wait a few seconds.'
  };
  function sentence(reason) {
    if (REFUSALS[reason]) return REFUSALS[reason];
    var text = String(reason).trim();
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + '.';
  }

  /** The human-readable text of a refused request. */
  function errorText(res, fallback) {
    if (res.status === 0) return 'Connection lost: not sent. Try again once connected.';
    if (res.status === 429) return REFUSALS['slow down'];
    var b = res.body;
    if (b && typeof b === 'object' && typeof b.error === 'string') return sentence(b.error);
    if (typeof b === 'string' && b.trim()) return sentence(b);
    return (fallback || 'The server refused') + ' (' + res.status + ').';
  }

  // ---------------------------------------------------------------------------------------------
  // Error banner

  var bannerTimer = null;
  function showError(text) {
    $('error-text').textContent = text;
    $('error-banner').hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(hideError, 15000);
  }
  function hideError() {
    clearTimeout(bannerTimer);
    $('error-banner').hidden = true;
  }
  $('error-close').addEventListener('click', hideError);

  // ---------------------------------------------------------------------------------------------
  // Connection state

  var CONN_LABEL = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' };
  var TRANSPORT_LABEL = { websocket: 'WebSocket', polling: 'long-polling' };
  function setConn(s) {
    state.conn = s;
    var node = $('conn-state');
    node.dataset.state = s;
    showTransport();
    updateReady();
  }

  /** "Connected · WebSocket": the transport in use, shown beside the state once connected. */
  function showTransport() {
    var node = $('conn-state');
    var connected = state.conn === 'connected';
    var transport = connected ? transportName() : '';
    node.dataset.transport = transport;
    var label = CONN_LABEL[state.conn] + (connected ? ' · ' + (TRANSPORT_LABEL[transport] || transport) : '');
    node.querySelector('.conn-label').textContent = label;
    node.title = connected ? 'Connected over ' + (TRANSPORT_LABEL[transport] || transport) : CONN_LABEL[state.conn];
  }

  function transportName() {
    try { return socket._raw.io.engine.transport.name; } catch (e) { return TRANSPORTS[0]; }
  }

  function isReady() {
    var ch = state.current && state.joined.get(state.current);
    return state.conn === 'connected' && !!state.nick && !!ch && ch.ready;
  }

  function updateReady() {
    var ready = isReady();
    $('app').dataset.ready = String(ready);
    $('send-button').disabled = !(state.conn === 'connected' && state.nick);
    $('app').classList.toggle('is-offline', state.conn !== 'connected');
  }

  socket.on('connect', function () {
    state.epoch++;
    state.everConnected = true;
    // What went wrong before the connection came back is no news now.
    hideError();
    // Polling first, then the upgrade: the label follows it.
    try { socket._raw.io.engine.once('upgrade', showTransport); } catch (e) { /* no engine */ }
    state.nick = null;
    state.joined.forEach(function (c) { c.ready = false; });
    setConn('connected');
    refreshChannels();
    // a remembered nickname may still be held by our previous connection for a moment: retried;
    // one just typed is not
    if (state.wantedNick) register(state.wantedNick, { auto: !state.nickTyped });
    else showNickScreen();
  });

  socket.on('disconnect', function (reason) {
    state.epoch++;
    state.nick = null;
    state.joined.forEach(function (c) { c.ready = false; });
    clearAllTyping();
    if (reason === 'io server disconnect' || reason === 'io client disconnect') {
      // socket.io-client does not come back by itself after these: try again shortly.
      setConn('offline');
      setTimeout(function () {
        if (!socket.isConnected() && !socket.isConnecting()) {
          setConn('reconnecting');
          try { socket._raw.connect(); } catch (e) { /* next attempt on "online" */ }
        }
      }, 2000);
    } else {
      setConn(navigator.onLine === false ? 'offline' : 'reconnecting');
    }
    renderMembers();
  });

  socket.on('connect_error', function () {
    if (state.conn === 'connected') return;
    // never connected: the server is unreachable (socket.io-client keeps trying)
    if (navigator.onLine === false || !state.everConnected) setConn('offline');
    else setConn('reconnecting');
  });
  socket.on('reconnecting', function () { if (navigator.onLine !== false) setConn('reconnecting'); });
  socket.on('reconnect_failed', function () { setConn('offline'); });
  window.addEventListener('offline', function () { if (state.conn !== 'connected') setConn('offline'); });
  window.addEventListener('online', function () {
    if (!socket.isConnected()) {
      setConn('reconnecting');
      if (!socket.isConnecting()) { try { socket._raw.connect(); } catch (e) { /* ignore */ } }
    }
  });

  // A polling session is otherwise only noticed gone after the heartbeat timeout: tell the
  // server now that the tab goes away, so the others' member lists update at once.
  window.addEventListener('pagehide', function () {
    try {
      var engine = socket._raw.io.engine;
      if (socket.isConnected() && engine.transport.name === 'polling' && navigator.sendBeacon) {
        navigator.sendBeacon((socket.path || '/socket.io') + '/?EIO=4&transport=polling&sid=' +
          encodeURIComponent(engine.id), '1');
      }
    } catch (e) { /* best effort */ }
  });

  // ---------------------------------------------------------------------------------------------
  // Nickname

  function showNickScreen(opts) {
    opts = opts || {};
    var input = $('nick-input');
    $('nick-screen').hidden = false;
    $('nick-cancel').hidden = !state.nick;
    if (opts.value !== undefined) input.value = opts.value;
    else if (!input.value) input.value = state.wantedNick || '';
    if (opts.error) nickError(opts.error); else nickError(null);
    setTimeout(function () { input.focus(); input.select(); }, 0);
  }
  function hideNickScreen() {
    $('nick-screen').hidden = true;
    nickError(null);
  }
  function nickError(text) {
    var p = $('nick-error');
    p.textContent = text || '';
    p.hidden = !text;
    $('nick-input').setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  function checkNick(nick) {
    var n = charLength(nick);
    if (n === 0) return 'Pick a nickname (1 to 32 characters).';
    if (n > MAX_NICK) return 'A nickname is at most 32 characters (this one has ' + n + ').';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(nick)) return 'A nickname cannot contain control characters.';
    return null;
  }

  $('nick-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    clearTimeout(state.nickRetry);
    var nick = $('nick-input').value.trim();
    var problem = checkNick(nick);
    if (problem) return nickError(problem);
    if (state.conn !== 'connected') {
      // kept: sent as soon as the connection is up
      state.wantedNick = nick;
      state.nickTyped = true;
      return nickError('Not connected yet: your nickname will be sent once connected.');
    }
    register(nick, { auto: false });
  });
  $('nick-cancel').addEventListener('click', function () {
    if (state.nick) { $('nick-input').value = ''; hideNickScreen(); }
  });
  $('me').addEventListener('click', function () { showNickScreen({ value: state.nick || '' }); });

  function register(nick, opts) {
    var attempt = (opts && opts.attempt) || 0;
    var epoch = state.epoch;
    $('nick-submit').disabled = true;
    return request('put', '/me', { nick: nick }).then(function (res) {
      $('nick-submit').disabled = false;
      if (res.stale || epoch !== state.epoch) return;
      if (res.status === 200) {
        state.nickTyped = false;
        var renamed = !!state.nick;
        state.nick = res.body.nick;
        state.wantedNick = res.body.nick;
        store(STORE_NICK, res.body.nick);
        if (renamed) saveConversations(); else loadConversations();
        $('me').hidden = false;
        $('me').textContent = res.body.nick;
        $('me').style.setProperty('--nick-hue', hue(res.body.nick));
        hideNickScreen();
        if (!renamed) enterChannels();
        updateReady();
        return;
      }
      if (res.status === 0) return; // the next connect registers again
      var text = errorText(res, 'Nickname refused');
      if (opts && opts.auto && res.status === 409 && attempt < 20) {
        // Perhaps our own previous session (a reload) that the server has not seen go yet.
        showNickScreen({ value: nick, error: text + ' (trying again…)' });
        state.nickRetry = setTimeout(function () {
          if (epoch === state.epoch && !state.nick && !$('nick-screen').hidden &&
              $('nick-input').value.trim() === nick) {
            register(nick, { auto: true, attempt: attempt + 1 });
          }
        }, 2000);
        return;
      }
      showNickScreen({ value: nick, error: text });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Channels

  function refreshChannels() {
    return request('get', '/channels').then(function (res) {
      if (res.status === 200 && Array.isArray(res.body)) {
        state.channels = res.body;
        renderChannels();
      }
    });
  }

  socket.on('channels', function (list) {
    if (Array.isArray(list)) {
      state.channels = list;
      renderChannels();
    }
  });

  // Refresh member counts now and then (the server only announces new channels).
  setInterval(function () {
    if (state.conn === 'connected' && document.visibilityState === 'visible') refreshChannels();
  }, 20000);
  document.addEventListener('visibilitychange', function () {
    if (state.conn === 'connected' && document.visibilityState === 'visible') refreshChannels();
  });

  function hashChannel() {
    var h = decodeURIComponent(location.hash.replace(/^#/, '')).trim();
    return h || null;
  }

  /** Counts the times the channels were entered after a nickname was accepted (for tests). */
  function entered() {
    var app = $('app');
    app.dataset.entered = String(Number(app.dataset.entered || 0) + 1);
  }

  /** After the nickname is accepted: back into the channels we were in (then the URL's). */
  function enterChannels() {
    var epoch = state.epoch;
    var wanted = hashChannel();
    var names = Array.from(state.joined.keys());
    var current = state.current && state.joined.has(state.current) ? state.current : null;
    if (!wanted && !current && names.length === 0 && state.leftAll) {
      state.current = null;
      renderAll();
      return entered();
    }
    var first = wanted || current || names[0] || 'general';
    // the current one first, so that the page is usable as soon as possible
    var order = [first].concat(names.filter(function (n) { return n !== first; }));
    state.current = first;
    renderAll();
    joinChannel(first, { rejoin: state.joined.has(first) }).then(function (ok) {
      if (epoch !== state.epoch) return;
      if (!ok) {
        // an unknown channel in the URL: say so, and be somewhere useful
        var fallback = names.filter(function (n) { return n !== first; })[0] || 'general';
        if (fallback !== first) {
          state.current = fallback;
          if (order.indexOf(fallback) < 0) order.push(fallback);
          return joinChannel(fallback, { rejoin: state.joined.has(fallback) }).then(function () { return fallback; });
        }
      }
      return first;
    }).then(function (done) {
      if (epoch !== state.epoch) return;
      entered();
      order.forEach(function (n) {
        if (n !== first && n !== done) joinChannel(n, { rejoin: true, background: true });
      });
    });
  }

  /**
   * POST /channels/{name}/join. A channel we were in that no longer exists (the server restarted)
   * is created again; an unknown channel asked for is an error shown to the user.
   * Resolves true when joined.
   */
  function joinChannel(name, opts) {
    opts = opts || {};
    var epoch = state.epoch;
    return request('post', '/channels/' + encodeURIComponent(name) + '/join').then(function (res) {
      if (res.stale || epoch !== state.epoch) return false;
      if (res.status === 404 && opts.rejoin && CHANNEL_RE.test(name) && !opts.recreated) {
        return request('post', '/channels', { name: name }).then(function (made) {
          if (made.stale || epoch !== state.epoch) return false;
          if (made.status === 201 || made.status === 409) {
            return joinChannel(name, { rejoin: true, recreated: true, background: opts.background });
          }
          return dropChannel(name, errorText(made, 'Could not join #' + name));
        });
      }
      if (res.status !== 200) {
        return dropChannel(name, 'Could not join #' + name + ': ' + errorText(res, 'the server refused'));
      }
      var ch = state.joined.get(name) || channelState();
      state.joined.set(name, ch);
      state.leftAll = false;
      ch.messages = (res.body.messages || []).slice(-KEEP_MESSAGES);
      ch.members = res.body.members || [];
      ch.unread = Math.min(ch.unread, ch.messages.length); // the history may be shorter now
      ch.ready = true;
      if (!opts.background) {
        state.current = name;
        ch.unread = 0;
      }
      remember();
      updateChannelCount(name, ch.members.length);
      renderAll();
      return true;
    });
  }

  function dropChannel(name, text) {
    state.joined.delete(name);
    if (state.current === name) state.current = null;
    remember();
    renderAll();
    if (text) showError(text);
    return false;
  }

  function switchTo(name) {
    closeDrawer();
    if (!name) return;
    state.pm = null;
    if (state.joined.has(name) && state.joined.get(name).ready) {
      state.current = name;
      state.joined.get(name).unread = 0;
      remember();
      renderAll();
      focusComposer();
      return Promise.resolve(true);
    }
    if (!state.nick) {
      // not registered (yet, or reconnecting): the URL keeps it, joined once registered
      if (CHANNEL_RE.test(name)) history.replaceState(null, '', location.pathname + location.search + '#' + name);
      return Promise.resolve(false);
    }
    return joinChannel(name).then(function (ok) {
      if (ok) focusComposer();
      else renderAll(); // the URL goes back to the channel we are in
      return ok;
    });
  }

  function leaveCurrent() {
    var name = state.current;
    if (!name || !state.nick) return;
    request('post', '/channels/' + encodeURIComponent(name) + '/leave').then(function (res) {
      if (res.stale) return;
      if (res.status !== 200 && res.status !== 404) return showError(errorText(res, 'Could not leave'));
      state.joined.delete(name);
      clearTyping(name);
      var rest = Array.from(state.joined.keys());
      state.current = rest[0] || null;
      state.leftAll = rest.length === 0;
      if (state.current) state.joined.get(state.current).unread = 0;
      remember();
      refreshChannels();
      renderAll();
    });
  }
  $('leave-button').addEventListener('click', leaveCurrent);

  window.addEventListener('hashchange', function () {
    var name = hashChannel();
    if (name && name !== state.current) switchTo(name);
  });

  $('new-channel-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = $('new-channel-input');
    var name = input.value.trim().toLowerCase().replace(/^#/, '').replace(/\s+/g, '-');
    if (!name) return;
    if (!CHANNEL_RE.test(name)) {
      return showError('A channel name is 1 to 32 lower-case letters, digits or "-", not starting with "-".');
    }
    if (!state.nick) return showError('Pick a nickname first.');
    request('post', '/channels', { name: name }).then(function (res) {
      if (res.stale) return;
      if (res.status === 201 || (res.status === 409 && res.body && res.body.error === 'the channel exists')) {
        input.value = '';
        switchTo(name);
        refreshChannels();
        return;
      }
      showError(errorText(res, 'Could not create #' + name));
    });
  });

  function updateChannelCount(name, count) {
    var found = false;
    state.channels.forEach(function (c) { if (c.name === name) { c.members = count; found = true; } });
    if (!found) state.channels.push({ name: name, members: count, messages: 0 });
    state.channels.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
  }

  // ---------------------------------------------------------------------------------------------
  // Live events

  socket.on('message', function (msg) {
    if (!msg || typeof msg.channel !== 'string') return;
    var ch = state.joined.get(msg.channel);
    if (!ch) return;
    if (!addMessage(ch, msg)) return;
    stopTyping(msg.channel, msg.nick);
    if (msg.channel === state.current && !state.pm) {
      appendToView(messageItem(msg));
    } else {
      ch.unread++;
      renderChannels();
    }
  });

  socket.on('presence', function (p) {
    if (!p || typeof p.channel !== 'string' || !Array.isArray(p.members)) return;
    var ch = state.joined.get(p.channel);
    updateChannelCount(p.channel, p.members.length);
    if (ch) ch.members = p.members;
    renderChannels();
    if (p.channel === state.current) renderMembers();
  });

  socket.on('private', function (pm) {
    if (!pm || typeof pm.text !== 'string' || typeof pm.from !== 'string' || typeof pm.to !== 'string') return;
    // our own message to ourselves: the answer already showed it
    if (state.nick && pm.from === state.nick && pm.to === state.nick) return;
    var c = addPrivate(pm);
    if (state.pm === convKey(c.nick)) {
      appendToView(privateItem(pm));
    } else {
      c.unread++;
      saveConversations();
      renderConversations();
    }
  });

  socket.on('typing', function (t) {
    if (!t || typeof t.channel !== 'string' || typeof t.nick !== 'string') return;
    if (t.nick === state.nick || !state.joined.has(t.channel)) return;
    var map = state.typing.get(t.channel);
    if (!map) state.typing.set(t.channel, (map = new Map()));
    clearTimeout(map.get(t.nick));
    map.set(t.nick, setTimeout(function () { stopTyping(t.channel, t.nick); }, TYPING_SHOWN_MS));
    if (t.channel === state.current) renderTyping();
  });

  function stopTyping(channel, nick) {
    var map = state.typing.get(channel);
    if (!map || !map.has(nick)) return;
    clearTimeout(map.get(nick));
    map.delete(nick);
    if (channel === state.current) renderTyping();
  }
  function clearTyping(channel) {
    var map = state.typing.get(channel);
    if (!map) return;
    map.forEach(function (timer) { clearTimeout(timer); });
    state.typing.delete(channel);
    renderTyping();
  }
  function clearAllTyping() {
    Array.from(state.typing.keys()).forEach(clearTyping);
  }

  /** Adds msg to a channel's messages unless known (by id); false if it was known. */
  function addMessage(ch, msg) {
    for (var i = ch.messages.length - 1; i >= 0 && i >= ch.messages.length - 20; i--) {
      if (ch.messages[i].id === msg.id) return false;
    }
    ch.messages.push(msg);
    if (ch.messages.length > KEEP_MESSAGES) ch.messages.splice(0, ch.messages.length - KEEP_MESSAGES);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  var input = $('message-input');

  function focusComposer() {
    // not on touch screens: the keyboard would cover the messages
    if (window.matchMedia && window.matchMedia('(pointer: fine)').matches) input.focus();
  }

  /** The composer says where a message goes: the open conversation, or the channel. */
  function renderComposer() {
    var c = openConversationState();
    $('pm-target').hidden = !c;
    $('pm-target-name').textContent = c ? c.nick : '';
    input.placeholder = c ? 'Private message to ' + c.nick : (state.current ? 'Message #' + state.current : 'Message');
    $('composer').classList.toggle('is-private', !!c);
  }
  $('pm-cancel').addEventListener('click', function () { closeConversation(); focusComposer(); });

  /** "/msg nick text": the longest online nick the rest starts with, else the first word. */
  function parseMsgCommand(rest) {
    var lower = rest.toLowerCase();
    var known = (state.current && state.joined.has(state.current) ? state.joined.get(state.current).members : [])
      .slice().sort(function (a, b) { return b.length - a.length; });
    for (var i = 0; i < known.length; i++) {
      var k = known[i].toLowerCase();
      if (lower.slice(0, k.length) === k && /\s/.test(rest.charAt(k.length))) {
        return { to: known[i], text: rest.slice(k.length).trim() };
      }
    }
    var m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    return m ? { to: m[1], text: m[2].trim() } : { to: rest.trim(), text: '' };
  }

  function checkText(text) {
    var n = charLength(text.trim());
    if (n === 0) return 'The message is empty.';
    if (n > MAX_TEXT) return 'A message is at most 2000 characters (this one has ' + n + ').';
    return null;
  }

  $('composer').addEventListener('submit', function (ev) {
    ev.preventDefault();
    send();
  });
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    } else if (ev.key === 'Escape' && state.pm) {
      closeConversation();
    }
  });
  input.addEventListener('input', function () {
    autosize();
    updateCharCount();
    maybeSendTyping();
  });

  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  }

  function updateCharCount() {
    var n = charLength(input.value.trim());
    var node = $('char-count');
    node.textContent = n > MAX_TEXT - 200 ? n + ' / ' + MAX_TEXT : '';
    node.classList.toggle('over', n > MAX_TEXT);
  }

  function maybeSendTyping() {
    if (!isReady() || state.pm || !input.value.trim() || input.value.charAt(0) === '/') return;
    var now = Date.now();
    if (now - state.lastTypingSent < TYPING_EVERY_MS) return;
    state.lastTypingSent = now;
    socket._raw.emit('typing', { channel: state.current });
  }

  function send() {
    var raw = input.value;
    var text = raw.trim();
    var open = openConversationState();
    var to = open ? open.nick : null;
    if (text.charAt(0) === '/' && text.charAt(1) !== '/') {
      var m = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
      var cmd = m ? m[1].toLowerCase() : '';
      var rest = m ? m[2] : '';
      if (cmd === 'msg' || cmd === 'pm') {
        var parsed = parseMsgCommand(rest);
        if (!parsed.to) return showError('Usage: /msg nick text');
        to = parsed.to;
        text = parsed.text;
      } else if (cmd === 'join') {
        input.value = '';
        var name = rest.trim().replace(/^#/, '').toLowerCase();
        if (name) switchTo(name);
        return;
      } else if (cmd === 'nick') {
        input.value = '';
        if (rest.trim()) {
          var problem = checkNick(rest.trim());
          if (problem) return showError(problem);
          request('put', '/me', { nick: rest.trim() }).then(function (res) {
            if (res.status === 200) {
              state.nick = state.wantedNick = res.body.nick;
              store(STORE_NICK, res.body.nick);
              saveConversations();
              $('me').textContent = res.body.nick;
            } else showError(errorText(res, 'Nickname refused'));
          });
        } else showNickScreen({ value: state.nick || '' });
        return;
      } else if (cmd === 'leave' || cmd === 'part') {
        input.value = '';
        leaveCurrent();
        return;
      } else {
        return showError('Unknown command /' + cmd + '. Try /msg nick text, /join channel, /nick name, /leave (or // to send a leading /).');
      }
    } else if (text.slice(0, 2) === '//') {
      text = text.slice(1);
    }

    var problem2 = checkText(text);
    if (problem2) return showError(problem2);
    if (!state.nick) return showNickScreen();
    if (state.conn !== 'connected') return showError('Not connected: your message is kept here; send it again once connected.');
    if (!to && !isReady()) return showError('Join a channel first.');

    var channel = state.current;
    input.value = '';
    autosize();
    updateCharCount();
    var url = to ? '/users/' + encodeURIComponent(to) + '/messages' : '/channels/' + encodeURIComponent(channel) + '/messages';
    request('post', url, { text: text }).then(function (res) {
      if (res.status === 201 && res.body) {
        hideErrorIfTransient();
        if (to) {
          var c = addPrivate(res.body);
          // a /msg from a channel opens the conversation it went to
          if (state.pm === convKey(c.nick)) appendToView(privateItem(res.body), true);
          else openConversation(c.nick);
        } else {
          var ch = state.joined.get(channel);
          if (ch && addMessage(ch, res.body) && channel === state.current) appendToView(messageItem(res.body), true);
        }
        return;
      }
      // give the text back unless something else was typed meanwhile
      if (!input.value) { input.value = raw; autosize(); updateCharCount(); }
      showError(errorText(res, 'Not sent'));
    });
  }

  function hideErrorIfTransient() {
    var text = $('error-text').textContent;
    if (/^(Slow down|Connection lost|The message is|A message is)/.test(text)) hideError();
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  function renderAll() {
    renderChannels();
    renderConversations();
    renderHeader();
    renderMessages();
    renderMembers();
    renderTyping();
    renderComposer();
    updateReady();
    // the URL names the channel shown (kept: ?transport=...); before the nickname is accepted
    // it is left alone: its channel is the one to join then
    var want = state.current ? '#' + state.current : '';
    if (location.hash !== want && (state.current || state.nick)) {
      history.replaceState(null, '', location.pathname + location.search + want);
    }
    var c = openConversationState();
    document.title = (c ? c.nick + ' (private) · ' : state.current ? '#' + state.current + ' · ' : '') + 'Switchyard chat';
  }

  function renderHeader() {
    var c = openConversationState();
    var name = state.current;
    var ch = name && state.joined.get(name);
    if (c) {
      $('channel-title').textContent = '@' + c.nick;
      $('current-count').textContent = 'private';
      $('leave-button').hidden = true;
      return;
    }
    $('channel-title').textContent = name ? '#' + name : state.nick ? 'No channel' : 'Welcome';
    $('current-count').textContent = ch && ch.ready ? ch.members.length + ' online' : '';
    $('leave-button').hidden = !name || !state.nick;
  }

  /** The conversations, the most recently active first, each with its unread count. */
  function renderConversations() {
    var list = $('conversation-list');
    clear(list);
    var all = Array.from(state.conversations.values()).sort(function (a, b) { return b.last - a.last; });
    $('conversations-hint').hidden = all.length > 0;
    all.forEach(function (c) {
      var key = convKey(c.nick);
      var open = key === state.pm;
      list.appendChild(el('li', {
        className: 'channel-item conversation-item' + (open ? ' current' : ''),
        dataset: { testid: 'conversation-item', nick: c.nick, unread: String(open ? 0 : c.unread) }
      },
      el('button', {
        type: 'button',
        className: 'channel-link',
        'aria-current': open ? 'page' : 'false',
        title: 'Private messages with ' + c.nick,
        onclick: function () { openConversation(c.nick); }
      },
      avatar(c.nick),
      el('span', { className: 'channel-name', text: c.nick }),
      c.unread && !open ? el('span', { className: 'unread', text: String(c.unread), title: 'unread' }) : null)));
    });
  }

  function renderChannels() {
    var list = $('channel-list');
    clear(list);
    var names = state.channels.map(function (c) { return c.name; });
    state.joined.forEach(function (_, n) { if (names.indexOf(n) < 0) names.push(n); });
    names.sort();
    names.forEach(function (name) {
      var info = state.channels.filter(function (c) { return c.name === name; })[0];
      var ch = state.joined.get(name);
      var joined = !!ch;
      var count = info ? info.members : (ch ? ch.members.length : 0);
      var li = el('li', {
        className: 'channel-item' + (name === state.current && !state.pm ? ' current' : '') + (joined ? ' joined' : ''),
        dataset: { testid: 'channel-item', channel: name, joined: String(joined), members: String(count) }
      },
      el('a', {
        href: '#' + name,
        className: 'channel-link',
        'aria-current': name === state.current && !state.pm ? 'page' : 'false',
        title: joined ? 'Show #' + name : 'Join #' + name,
        onclick: function (ev) { ev.preventDefault(); switchTo(name); }
      },
      el('span', { className: 'hash', text: '#' }),
      el('span', { className: 'channel-name', text: name }),
      ch && ch.unread && name !== state.current ? el('span', { className: 'unread', text: String(ch.unread), title: 'unread' }) : null,
      el('span', { className: 'count', dataset: { testid: 'channel-count' }, text: String(count), title: count + ' online' })));
      list.appendChild(li);
    });
  }

  function renderMembers() {
    var list = $('member-list');
    clear(list);
    var ch = state.current && state.joined.get(state.current);
    var members = ch ? ch.members : [];
    // Who is in the channel open, as the heading says; with none open, nobody is listed.
    $('members-title').textContent = ch ? 'In #' + state.current : 'Open a channel to see who is in it';
    $('members-count').textContent = ch ? '(' + members.length + ')' : '';
    list.classList.toggle('stale', state.conn !== 'connected');
    members.forEach(function (nick) {
      var me = nick === state.nick;
      var li = el('li', { className: 'member' + (me ? ' me' : ''), dataset: { testid: 'member', nick: nick } },
        el('button', {
          type: 'button',
          className: 'member-button',
          title: me ? 'You' : 'Private messages with ' + nick,
          onclick: function () {
            if (!me) openConversation(nick);
          }
        },
        avatar(nick),
        el('span', { className: 'member-name', text: nick }),
        me ? el('span', { className: 'you', text: 'you' }) : null));
      list.appendChild(li);
    });
    renderHeader();
  }

  function avatar(nick) {
    var a = el('span', { className: 'avatar', 'aria-hidden': 'true', text: (Array.from(nick)[0] || '?').toUpperCase() });
    a.style.setProperty('--nick-hue', hue(nick));
    return a;
  }

  function renderTyping() {
    var node = $('typing-hint');
    var map = state.current && !state.pm && state.typing.get(state.current);
    var nicks = map ? Array.from(map.keys()) : [];
    var text = '';
    if (nicks.length === 1) text = nicks[0] + ' is typing…';
    else if (nicks.length === 2) text = nicks[0] + ' and ' + nicks[1] + ' are typing…';
    else if (nicks.length > 2) text = 'Several people are typing…';
    node.textContent = text;
    node.classList.toggle('visible', !!text);
    node.dataset.nicks = nicks.join(',');
  }

  function messageItem(msg) {
    var mine = msg.nick === state.nick;
    var li = el('li', {
      className: 'message' + (mine ? ' mine' : ''),
      dataset: { testid: 'message', kind: 'message', author: msg.nick, id: String(msg.id), time: String(msg.time) }
    },
    avatar(msg.nick),
    el('div', { className: 'bubble' },
      el('div', { className: 'meta' },
        el('span', { className: 'author', text: msg.nick }),
        el('time', { className: 'time', dateTime: new Date(msg.time).toISOString(), title: new Date(msg.time).toLocaleString(), text: hhmm(msg.time) })),
      el('div', { className: 'text', dataset: { testid: 'message-text' }, text: msg.text })));
    li.querySelector('.author').style.setProperty('--nick-hue', hue(msg.nick));
    return li;
  }

  function privateItem(pm) {
    var outgoing = pm.from === state.nick && pm.to !== state.nick;
    var li = el('li', {
      className: 'message private' + (outgoing ? ' mine' : ''),
      dataset: { testid: 'message', kind: 'private', author: pm.from, to: pm.to, time: String(pm.time) }
    },
    avatar(pm.from),
    el('div', { className: 'bubble' },
      el('div', { className: 'meta' },
        el('span', { className: 'author', text: pm.from }),
        el('time', { className: 'time', title: new Date(pm.time).toLocaleString(), text: hhmm(pm.time) })),
      el('div', { className: 'text', dataset: { testid: 'message-text' }, text: pm.text })));
    li.querySelector('.author').style.setProperty('--nick-hue', hue(pm.from));
    return li;
  }

  function renderMessages() {
    var list = $('message-list');
    clear(list);
    var c = openConversationState();
    var ch = state.current && state.joined.get(state.current);
    if (c) c.messages.forEach(function (p) { list.appendChild(privateItem(p)); });
    else if (ch) ch.messages.forEach(function (m) { list.appendChild(messageItem(m)); });
    updateEmptyHint();
    scrollToEnd(true);
  }

  function updateEmptyHint() {
    var ch = state.current && state.joined.get(state.current);
    var hint = $('empty-hint');
    var empty = !$('message-list').firstChild;
    hint.hidden = !empty;
    var c = openConversationState();
    if (c) hint.textContent = 'No private messages with ' + c.nick + ' yet. Only the two of you see them.';
    else if (!state.current && !state.nick) hint.textContent = 'Pick a nickname to start chatting.';
    else if (!state.current) hint.textContent = 'You are in no channel: pick one from the list.';
    else if (ch && !ch.ready) hint.textContent = 'Joining #' + state.current + '…';
    else hint.textContent = 'No messages in #' + state.current + ' yet. Say hello!';
  }

  function appendToView(node, force) {
    var box = $('messages');
    var nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    $('message-list').appendChild(node);
    updateEmptyHint();
    if (nearEnd || force) scrollToEnd();
  }

  function scrollToEnd() {
    var box = $('messages');
    box.scrollTop = box.scrollHeight;
  }

  // ---------------------------------------------------------------------------------------------
  // Narrow screens: the channel and member lists are a drawer

  function openDrawer() {
    document.body.classList.add('drawer-open');
    $('drawer-toggle').setAttribute('aria-expanded', 'true');
    $('scrim').hidden = false;
  }
  function closeDrawer() {
    document.body.classList.remove('drawer-open');
    $('drawer-toggle').setAttribute('aria-expanded', 'false');
    $('scrim').hidden = true;
  }
  $('drawer-toggle').addEventListener('click', function () {
    if (document.body.classList.contains('drawer-open')) closeDrawer(); else openDrawer();
  });
  $('scrim').addEventListener('click', closeDrawer);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closeDrawer(); });

  // ---------------------------------------------------------------------------------------------

  renderAll();
  setConn('connecting');
  if (!state.wantedNick) showNickScreen();
})();
