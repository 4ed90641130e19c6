/*
 * io-socket.js: Switchyard's browser `io.socket` layer, with the API of sails.io.js 1.2.1
 * (io.sails settings, io.socket, io.sails.connect(), socket.get/post/put/patch/delete/request
 * answered with (body, jwr), on/off, ...) for Sails-style virtual requests.
 *
 * It sits on socket.io's own client: load the socket.io-client 4 bundle first (the server serves
 * it at /socket.io/socket.io.js), then this file. It never speaks Engine.IO itself; every request
 * is a plain socket.io emit of the event named after the lowercased method, with one argument
 * {method, headers, data, url} and an ack that receives the server's JWR {body, headers, statusCode}.
 *
 * Where it differs from sails.io.js: reconnection is socket.io-client's (automatic unless
 * io.sails.reconnection = false); requests pending when the socket drops are answered at once
 * with statusCode 0 and jwr.error set; listeners survive reconnect(); `reconnect`, `reconnecting`,
 * `reconnect_attempt`, `reconnect_error`, `reconnect_failed` and `error` are the Manager's events
 * of socket.io-client 4, reachable through socket.on(); `query` may also be an object; there is
 * no cross-origin /__getcookie JSONP step.
 */
(function (global) {
  'use strict';

  var io = global.io;
  if (typeof io !== 'function') {
    throw new Error('io-socket.js needs socket.io-client loaded first (e.g. <script src="/socket.io/socket.io.js">).');
  }
  if (io.sails) {
    throw new Error('io-socket.js: `io` already has `io.sails` (is this script, or sails.io.js, on the page twice?)');
  }

  // Options of a socket, taken from io.sails when the socket itself has none (as sails.io.js).
  var SOCKET_OPTIONS = [
    'url', 'multiplex', 'transports', 'query', 'path', 'headers', 'initialConnectionHeaders',
    'reconnection', 'reconnectionAttempts', 'reconnectionDelay', 'reconnectionDelayMax',
    'randomizationFactor', 'timeout'
  ];
  // io.sails settings that a script tag may set as (data-)attributes (as sails.io.js).
  var CONFIGURABLE_VIA_HTML_ATTR = ['autoConnect', 'reconnection', 'environment', 'headers', 'url', 'transports', 'path'];
  // Events of socket.io-client 4's Manager (socket.io) rather than of the socket.
  var MANAGER_EVENTS = {
    reconnect: 'reconnect',
    reconnecting: 'reconnect_attempt',
    reconnect_attempt: 'reconnect_attempt',
    reconnect_error: 'reconnect_error',
    reconnect_failed: 'reconnect_failed',
    error: 'error'
  };

  var SDK_INFO = { version: '1.2.1', platform: 'browser', language: 'javascript' };
  var SDK_QUERY = {
    __sails_io_sdk_version: SDK_INFO.version,
    __sails_io_sdk_platform: SDK_INFO.platform,
    __sails_io_sdk_language: SDK_INFO.language
  };
  SDK_INFO.versionString = Object.keys(SDK_QUERY).map(function (k) { return k + '=' + SDK_QUERY[k]; }).join('&');

  var hasOwn = Object.prototype.hasOwnProperty;

  // The script tag that loaded this file (the last one in the DOM while it runs).
  var thisScript = (function () {
    if (typeof document !== 'object' || !document.getElementsByTagName) return null;
    var scripts = document.getElementsByTagName('script');
    return document.currentScript || scripts[scripts.length - 1] || null;
  })();
  var scriptSrc = (thisScript && thisScript.src) || '';

  function log() {
    if (io.sails.environment === 'production' || typeof console !== 'object' || !console.log) return;
    console.log.apply(console, ['io-socket.js:'].concat([].slice.call(arguments)));
  }

  function scriptTagConfig() {
    var config = {};
    if (!thisScript || !thisScript.getAttribute) return config;
    CONFIGURABLE_VIA_HTML_ATTR.forEach(function (key) {
      var raw = thisScript.getAttribute('data-' + key) || thisScript.getAttribute(key);
      if (typeof raw !== 'string') return;
      var value;
      try { value = JSON.parse(raw); } catch (e) { value = raw; }
      if (key === 'autoConnect' && value === '') value = true;
      config[key] = value;
    });
    return config;
  }

  // ---------------------------------------------------------------------------------------------
  // JWR: the JSON WebSocket Response handed to request callbacks as their second argument.

  function JWR(responseCtx) {
    responseCtx = responseCtx || {};
    this.body = responseCtx.body;
    this.headers = responseCtx.headers || {};
    this.statusCode = typeof responseCtx.statusCode === 'undefined' ? 200 : responseCtx.statusCode;
    if (this.statusCode < 200 || this.statusCode >= 400) {
      var msg;
      if (this.statusCode === 0) {
        msg = 'The socket request failed.';
      } else {
        msg = 'Server responded with a ' + this.statusCode + ' status code';
        msg += ':\n```\n' + JSON.stringify(this.body, null, 2) + '\n```';
      }
      this.error = new Error(msg);
    }
  }
  JWR.prototype.toString = function () {
    return '[ResponseFromSails]  -- Status: ' + this.statusCode + '  -- Headers: ' + this.headers +
      '  -- Body: ' + this.body;
  };
  JWR.prototype.toPOJO = function () {
    return { body: this.body, headers: this.headers, statusCode: this.statusCode };
  };

  function disconnectedJWR() {
    var jwr = new JWR({ body: null, headers: {}, statusCode: 0 });
    jwr.error = new Error('The socket disconnected before the request completed.');
    jwr.error.code = 'E_SOCKET_DISCONNECTED';
    return jwr;
  }

  // ---------------------------------------------------------------------------------------------
  // SailsSocket

  function SailsSocket(opts) {
    var self = this;
    opts = opts || {};
    self._isConnecting = false;
    self._mightBeAboutToAutoConnect = false;
    self._raw = null;
    self._listeners = {}; // user listeners, by event name: bound to every raw socket this wraps
    self._pending = []; // requests sent and not answered yet: {cb, done}
    self.requestQueue = null; // requests made while not connected: [options, cb]

    // Connection options may only change while disconnected (as sails.io.js); headers any time.
    var _opts = {};
    SOCKET_OPTIONS.forEach(function (option) {
      if (option === 'headers') return;
      Object.defineProperty(self, option, {
        enumerable: true,
        get: function () {
          // never null: io(null, opts) would take null for the options and drop opts
          if (option === 'url') return _opts.url || (self._raw && self._raw.io && self._raw.io.uri) || undefined;
          return _opts[option];
        },
        set: function (value) {
          if (self.isConnected() && io.sails.strict !== false && value != _opts[option]) {
            throw new Error('Cannot change value of `' + option + '` while socket is connected.');
          }
          _opts[option] = value;
        }
      });
    });
    SOCKET_OPTIONS.forEach(function (option) { self[option] = opts[option]; });

    self.on('sails:parseError', function (err) {
      log('the server could not parse a request of this socket (sent without a callback):', err);
    });
  }

  SailsSocket.prototype._target = function (raw, evName) {
    return hasOwn.call(MANAGER_EVENTS, evName) ? { emitter: raw.io, name: MANAGER_EVENTS[evName] } : { emitter: raw, name: evName };
  };

  SailsSocket.prototype._bind = function (raw, evName, fn) {
    var t = this._target(raw, evName);
    t.emitter.on(t.name, fn);
  };

  SailsSocket.prototype._unbind = function (raw, evName, fn) {
    var t = this._target(raw, evName);
    t.emitter.off(t.name, fn);
  };

  SailsSocket.prototype._connect = function () {
    var self = this;
    self._isConnecting = true;
    SOCKET_OPTIONS.forEach(function (option) {
      if (typeof self[option] === 'undefined') self[option] = io.sails[option];
    });
    if (self.url) self.url = self.url.replace(/\/$/, '');

    // The handshake query: the page's own (string or object) plus the SDK's metadata.
    var query = {};
    if (typeof self.query === 'string') {
      self.query.replace(/^\?/, '').split('&').forEach(function (pair) {
        if (!pair) return;
        var i = pair.indexOf('=');
        var k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
        query[k] = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, ' '));
      });
    } else if (self.query && typeof self.query === 'object') {
      for (var q in self.query) if (hasOwn.call(self.query, q)) query[q] = self.query[q];
    } else if (self.query) {
      throw new Error('Unexpected data type provided for `query` setting: ' + self.query);
    }
    for (var s in SDK_QUERY) query[s] = SDK_QUERY[s];

    var opts = { query: query };
    ['multiplex', 'transports', 'path', 'reconnection', 'reconnectionAttempts', 'reconnectionDelay',
      'reconnectionDelayMax', 'randomizationFactor', 'timeout'].forEach(function (option) {
      if (typeof self[option] !== 'undefined' && self[option] !== null) opts[option] = self[option];
    });
    if (self.initialConnectionHeaders) opts.extraHeaders = self.initialConnectionHeaders;

    // A new raw socket (after disconnect(), for reconnect()): the old one keeps nothing of ours.
    if (self._raw) self._release(self._raw);

    var raw = io(self.url || undefined, opts);
    self._raw = raw;
    self._internal = {
      connect: function () {
        self._isConnecting = false;
        log('connected to ' + (self.url || 'the server') + ' (socket id ' + raw.id + ')');
        runRequestQueue(self);
      },
      disconnect: function (reason) {
        log('disconnected (' + reason + ')');
        self._failPending();
      },
      connect_error: function (err) {
        // still connecting while socket.io-client will try again
        self._isConnecting = !!(raw.active && raw.io.reconnection());
        log('could not connect:', err && err.message);
      },
      reconnect_attempt: function () { self._isConnecting = true; },
      reconnect_failed: function () { self._isConnecting = false; }
    };
    raw.on('connect', self._internal.connect);
    raw.on('disconnect', self._internal.disconnect);
    raw.on('connect_error', self._internal.connect_error);
    raw.io.on('reconnect_attempt', self._internal.reconnect_attempt);
    raw.io.on('reconnect_failed', self._internal.reconnect_failed);

    for (var evName in self._listeners) {
      self._listeners[evName].forEach(function (fn) { self._bind(raw, evName, fn); });
    }
    return self;
  };

  SailsSocket.prototype._release = function (raw) {
    var self = this;
    var internal = self._internal;
    if (internal) {
      raw.off('connect', internal.connect);
      raw.off('disconnect', internal.disconnect);
      raw.off('connect_error', internal.connect_error);
      raw.io.off('reconnect_attempt', internal.reconnect_attempt);
      raw.io.off('reconnect_failed', internal.reconnect_failed);
    }
    for (var evName in self._listeners) {
      self._listeners[evName].forEach(function (fn) { self._unbind(raw, evName, fn); });
    }
  };

  // Answer every request in flight with statusCode 0 (their acks will never come).
  SailsSocket.prototype._failPending = function () {
    var pending = this._pending;
    this._pending = [];
    pending.forEach(function (p) {
      if (p.done) return;
      p.done = true;
      if (p.cb) p.cb(null, disconnectedJWR());
    });
  };

  SailsSocket.prototype.reconnect = function () {
    if (this._isConnecting) throw new Error('Cannot connect- socket is already connecting');
    if (this.isConnected()) throw new Error('Cannot connect- socket is already connected');
    return this._connect();
  };

  SailsSocket.prototype.disconnect = function () {
    this._isConnecting = false;
    // Also stops socket.io-client's reconnection attempts of a socket that is not connected now.
    if (!this._raw || !(this._raw.connected || this._raw.active)) {
      throw new Error('Cannot disconnect- socket is already disconnected');
    }
    var wasConnected = this._raw.connected;
    this._raw.disconnect();
    if (!wasConnected) this._failPending();
    return this;
  };

  SailsSocket.prototype.isConnected = function () {
    return !!(this._raw && this._raw.connected);
  };

  SailsSocket.prototype.isConnecting = function () {
    return this._isConnecting;
  };

  SailsSocket.prototype.mightBeAboutToAutoConnect = function () {
    return this._mightBeAboutToAutoConnect;
  };

  SailsSocket.prototype.on = function (evName, fn) {
    (this._listeners[evName] = this._listeners[evName] || []).push(fn);
    if (this._raw) this._bind(this._raw, evName, fn);
    return this;
  };

  SailsSocket.prototype.off = function (evName, fn) {
    var list = this._listeners[evName];
    var i = list ? list.indexOf(fn) : -1;
    if (i < 0) return this;
    list.splice(i, 1);
    if (this._raw) this._unbind(this._raw, evName, fn);
    return this;
  };

  SailsSocket.prototype.removeAllListeners = function () {
    var self = this;
    if (self._raw) {
      for (var evName in self._listeners) {
        self._listeners[evName].forEach(function (fn) { self._unbind(self._raw, evName, fn); });
      }
    }
    self._listeners = {};
    return self;
  };

  function verb(method, dataKey) {
    return function (url, data, cb) {
      if (typeof data === 'function') {
        cb = data;
        data = {};
      }
      var options = { method: method, url: url };
      options[dataKey] = data;
      return this.request(options, cb);
    };
  }
  SailsSocket.prototype.get = verb('get', 'params');
  SailsSocket.prototype.post = verb('post', 'data');
  SailsSocket.prototype.put = verb('put', 'params');
  SailsSocket.prototype.patch = verb('patch', 'params');
  SailsSocket.prototype['delete'] = verb('delete', 'params');

  SailsSocket.prototype.request = function (options, cb) {
    var usage = 'Usage:\nsocket.request( options, [fnToCallWhenComplete] )\n\n' +
      'options.url :: e.g. "/foo/bar"\noptions.method :: e.g. "get", "post", "put", or "delete", etc.\n' +
      'options.params :: e.g. { emailAddress: "mike@example.com" }\n' +
      'options.headers :: e.g. { "x-my-custom-header": "some string" }';
    if (typeof cb !== 'undefined' && typeof cb !== 'function') throw new Error('Invalid callback function!\n' + usage);
    if (!options || typeof options !== 'object' || typeof options.url !== 'string') throw new Error('Invalid or missing URL!\n' + usage);
    if (options.method && typeof options.method !== 'string') {
      throw new Error('Invalid `method` provided (should be a string like "post" or "put")\n' + usage);
    }
    if (options.headers && typeof options.headers !== 'object') {
      throw new Error('Invalid `headers` provided (should be a dictionary with string values)\n' + usage);
    }
    if (options.params && typeof options.params !== 'object') {
      throw new Error('Invalid `params` provided (should be a dictionary with JSON-serializable values)\n' + usage);
    }
    if (options.data && typeof options.data !== 'object') {
      throw new Error('Invalid `data` provided (should be a dictionary with JSON-serializable values)\n' + usage);
    }
    if (options.data && options.params) {
      throw new Error('Cannot specify both `params` and `data`!  They are aliases of each other.\n' + usage);
    }

    // Not connected (yet, or for now): queue it, to be sent once connected.
    if (!this.isConnected()) {
      (this.requestQueue = this.requestQueue || []).push([options, cb]);
      return;
    }

    // The socket's headers (io.sails.headers by default) under the request's own.
    var headers = {};
    var h;
    for (h in options.headers || {}) if (hasOwn.call(options.headers, h)) headers[h] = options.headers[h];
    if (this.headers && typeof this.headers === 'object') {
      for (h in this.headers) if (hasOwn.call(this.headers, h) && !hasOwn.call(headers, h)) headers[h] = this.headers[h];
    }
    var requestCtx = {
      method: (options.method || 'get').toLowerCase(),
      headers: headers,
      data: options.params || options.data || {},
      url: options.url
    };

    var self = this;
    var pending = { cb: cb, done: false };
    self._pending.push(pending);
    self._raw.emit(requestCtx.method, requestCtx, function serverResponded(responseCtx) {
      if (pending.done) return;
      pending.done = true;
      var i = self._pending.indexOf(pending);
      if (i >= 0) self._pending.splice(i, 1);
      responseCtx = responseCtx || {};
      if (cb) cb(responseCtx.body, new JWR(responseCtx));
    });
  };

  function runRequestQueue(socket) {
    var queue = socket.requestQueue;
    socket.requestQueue = null;
    if (!queue) return;
    for (var i = 0; i < queue.length; i++) socket.request(queue[i][0], queue[i][1]);
  }

  // ---------------------------------------------------------------------------------------------
  // io.sails and io.socket

  io.sails = {
    autoConnect: true,
    // undefined: socket.io-client's own default (automatic reconnection)
    reconnection: undefined,
    environment: (
      /(#production|\.min\.js)/.test(scriptSrc) ||
      (global.SAILS_LOCALS && typeof global.SAILS_LOCALS === 'object' &&
        (global.SAILS_LOCALS._environment === 'staging' || global.SAILS_LOCALS._environment === 'production'))
    ) ? 'production' : 'development',
    sdk: SDK_INFO,
    transports: ['websocket'],
    path: '/socket.io',
    headers: undefined,
    url: undefined,
    query: undefined
  };
  var tagConfig = scriptTagConfig();
  for (var key in tagConfig) io.sails[key] = tagConfig[key];

  io.sails.connect = function (url, opts) {
    if (url && typeof url === 'object') {
      opts = url;
      url = null;
    }
    opts = opts || {};
    opts.url = url || opts.url || undefined;
    var socket = new SailsSocket(opts);
    socket._connect();
    return socket;
  };

  // The eager socket: it queues listeners and requests until it connects, after this tick, unless
  // the page sets io.sails.autoConnect = false meanwhile.
  io.socket = new SailsSocket();
  io.socket._mightBeAboutToAutoConnect = true;
  setTimeout(function () {
    io.socket._mightBeAboutToAutoConnect = false;
    if (io.sails.autoConnect === false || io.sails.autoconnect === false) {
      delete io.socket;
      return;
    }
    io.socket._connect();
  }, 0);
})(typeof window !== 'undefined' ? window : this);
