// dialbridge host page. Joins a room over the signaling WebSocket (docs/signaling-protocol.md),
// talks WebRTC (audio only) to every other participant in a mesh (mesh.js), shows who is
// speaking, and lets hosts mute or remove phone participants. Plain JavaScript modules, no
// build step, nothing loaded from elsewhere.
//
// For tests: window.dialbridge = { roomId, clientId, isHost, hostKey, muted, dialIn,
// participants(), levels(), peers(), events(), join({room, pin, name, hostKey}), leave(),
// setMuted(bool), mute(id), kick(id) }. Elements carry data-testid attributes; participant rows
// are data-testid="participant" with data-client-id, data-kind, data-muted, data-speaking.
import { Mesh } from '/mesh.js';

{
  const REQUEST_TIMEOUT_MS = 10000;
  const EVENT_LOG_SIZE = 200;

  const config = readConfig();
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

  const st = {
    ws: null,
    clientId: null,
    roomId: null,
    roomName: '',
    host: false,
    hostKey: null,
    pinRequired: false,
    pin: '',
    me: null,
    muted: false,
    participants: new Map(), // client_id -> participant (everyone but me)
    nextRequest: 1,
    pending: new Map(), // request_id -> {resolve, reject, timer}
    events: [],
  };

  function readConfig() {
    try {
      return JSON.parse(document.getElementById('dialbridge-config').textContent);
    } catch (e) {
      return { dial_in: '', ws_path: '/ws' };
    }
  }

  // ---- signaling --------------------------------------------------------------------------

  function openSocket() {
    return new Promise((resolve, reject) => {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(`${scheme}//${location.host}${config.ws_path || '/ws'}`);
      let greeted = false;
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (!greeted && msg.type === 'hello') {
          greeted = true;
          resolve(ws);
          return;
        }
        onMessage(msg);
      };
      ws.onerror = () => {
        if (!greeted) reject(new Error('cannot reach the signaling server'));
      };
      ws.onclose = (ev) => {
        if (!greeted) reject(new Error('the signaling server closed the connection'));
        if (st.ws === ws) onSocketClosed(ev);
      };
      st.ws = ws;
    });
  }

  function send(msg) {
    if (st.ws && st.ws.readyState === WebSocket.OPEN) st.ws.send(JSON.stringify(msg));
  }

  /** Sends a request; resolves with its reply, rejects with the server's `error`. */
  function request(msg) {
    const id = st.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        st.pending.delete(id);
        reject(new Error(`no answer to ${msg.type}`));
      }, REQUEST_TIMEOUT_MS);
      st.pending.set(id, { resolve, reject, timer });
      send({ ...msg, request_id: id });
    });
  }

  function onMessage(msg) {
    st.events.push(msg);
    if (st.events.length > EVENT_LOG_SIZE) st.events.shift();
    // Side effects first, synchronously, so later frames see the new state.
    switch (msg.type) {
      case 'joined': onJoined(msg); break;
      case 'participant_joined': upsert(msg.participant); break;
      case 'participant_updated': upsert(msg.participant); break;
      case 'participant_left': removeParticipant(msg.client_id); break;
      case 'signal': if (msg.from !== st.clientId) mesh.onSignal(msg.from, msg.payload); break;
      case 'muted': onMutedByHost(msg.by); break;
      case 'kicked': onKicked(msg.by); break;
      default: break;
    }
    const waiting = msg.request_id !== undefined && st.pending.get(msg.request_id);
    if (waiting) {
      st.pending.delete(msg.request_id);
      clearTimeout(waiting.timer);
      if (msg.type === 'error') {
        const err = new Error(msg.message);
        err.code = msg.code;
        waiting.reject(err);
      } else {
        waiting.resolve(msg);
      }
    } else if (msg.type === 'error') {
      showError(`${msg.message} (${msg.code})`);
    }
  }

  function onSocketClosed(ev) {
    const wasInRoom = st.roomId !== null;
    teardown();
    if (wasInRoom && !st.leaving) showError(`Connection to the server closed (${ev.code}).`);
    st.leaving = false;
  }

  // ---- room state -------------------------------------------------------------------------

  function onJoined(msg) {
    st.roomId = msg.room;
    st.roomName = msg.name || '';
    st.clientId = msg.client_id;
    st.host = !!msg.host;
    st.hostKey = msg.host_key || null;
    st.pinRequired = !!msg.pin_required;
    st.muted = false;
    st.me = { client_id: msg.client_id, display_name: st.myName, kind: 'web', muted: false, host: st.host };
    st.participants.clear();
    for (const p of msg.participants) st.participants.set(p.client_id, p);
    showRoom();
    // The newcomer offers to everyone already there; they wait for our offers.
    for (const p of msg.participants) mesh.offerTo(p.client_id);
    history.replaceState(null, '', `?room=${encodeURIComponent(msg.room)}`);
  }

  function upsert(p) {
    if (p.client_id === st.clientId) {
      st.me = { ...st.me, ...p };
      applyLocalMute(p.muted);
    } else {
      st.participants.set(p.client_id, p);
    }
    render();
  }

  function removeParticipant(id) {
    st.participants.delete(id);
    mesh.close(id);
    render();
  }

  function onMutedByHost(by) {
    applyLocalMute(true);
    const who = st.participants.get(by);
    showNotice(`${who ? who.display_name || 'A host' : 'A host'} muted you.`);
  }

  function onKicked(by) {
    const who = st.participants.get(by);
    st.leaving = true;
    teardown();
    showError(`${who ? who.display_name || 'A host' : 'A host'} removed you from the room.`);
  }

  function applyLocalMute(muted) {
    st.muted = muted;
    if (st.me) st.me.muted = muted;
    mesh.setLocalMuted(muted);
    const button = $('self-mute');
    button.textContent = muted ? 'Unmute me' : 'Mute me';
    button.setAttribute('aria-pressed', String(muted));
  }

  // ---- media (mesh.js) --------------------------------------------------------------------

  const mesh = new Mesh({
    sendSignal: (to, payload) => send({ type: 'signal', to, payload }),
    onChange: () => render(),
    onLevels: (now) => paintLevels(now),
    sink: $('audio-sinks'),
  });

  const meshId = (id) => (id === st.clientId ? null : id);
  const levelOf = (id) => mesh.levelOf(meshId(id));

  /** Muted participants are never shown speaking, whatever their stream carries. */
  function isSpeaking(id, now = performance.now()) {
    const p = id === st.clientId ? st.me : st.participants.get(id);
    return !!p && !p.muted && mesh.isSpeaking(meshId(id), now);
  }

  function paintLevels(now) {
    for (const li of document.querySelectorAll('[data-testid="participant"]')) {
      const id = Number(li.dataset.clientId);
      const speaking = isSpeaking(id, now);
      li.classList.toggle('speaking', speaking);
      li.dataset.speaking = String(speaking);
      const bar = li.querySelector('.level > span');
      if (bar) bar.style.width = `${Math.min(100, Math.round(levelOf(id).level * 400))}%`;
    }
  }

  // ---- rendering --------------------------------------------------------------------------

  function node(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'onclick') e.addEventListener('click', v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c) e.appendChild(c);
    return e;
  }

  function icon(kind) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('data-testid', kind === 'phone' ? 'phone-icon' : 'web-icon');
    svg.setAttribute('aria-label', kind === 'phone' ? 'phone' : 'browser');
    const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', kind === 'phone' ? '#phone-icon' : '#web-icon');
    svg.appendChild(use);
    return svg;
  }

  function row(p, isMe) {
    const peerState = isMe ? null : mesh.peerState(p.client_id);
    const phone = p.kind === 'phone';
    const li = node('li', {
      class: `participant ${phone ? 'phone' : 'web'}`,
      'data-testid': 'participant',
      'data-client-id': p.client_id,
      'data-kind': p.kind,
      'data-muted': String(!!p.muted),
      'data-speaking': 'false',
    });
    li.appendChild(icon(p.kind));
    const meta = node('div', { class: 'meta' },
      node('span', { class: 'name', 'data-testid': 'participant-name', text: p.display_name || `Participant ${p.client_id}` }),
      phone && p.caller ? node('span', { class: 'caller', 'data-testid': 'participant-caller', text: p.caller }) : null,
      node('span', { class: 'badge', text: phone ? 'phone' : 'web' }),
      p.host ? node('span', { class: 'badge host-badge', text: 'host' }) : null,
      isMe ? node('span', { class: 'badge', text: 'you' }) : null,
      p.muted ? node('span', { class: 'badge muted-badge', 'data-testid': 'muted-badge', text: 'muted' }) : null,
      peerState ? node('span', { class: 'peer-state', 'data-testid': 'peer-state', text: peerState }) : null);
    li.appendChild(meta);
    li.appendChild(node('div', { class: 'level', 'aria-hidden': 'true' }, node('span')));
    if (st.host && !isMe && phone) {
      li.appendChild(node('button', {
        type: 'button', 'data-testid': 'mute-button', 'data-client-id': p.client_id,
        disabled: !!p.muted, text: 'Mute', onclick: () => hostAction('mute', p.client_id),
      }));
      li.appendChild(node('button', {
        type: 'button', 'data-testid': 'kick-button', 'data-client-id': p.client_id,
        text: 'Remove', onclick: () => hostAction('kick', p.client_id),
      }));
    }
    return li;
  }

  function render() {
    if (st.roomId === null) return;
    const list = $('participants');
    list.replaceChildren();
    if (st.me) list.appendChild(row(st.me, true));
    for (const p of st.participants.values()) list.appendChild(row(p, false));
    $('participant-count').textContent = String(st.participants.size + (st.me ? 1 : 0));
    paintLevels(performance.now());
  }

  function showRoom() {
    $('join-form').hidden = true;
    $('room').hidden = false;
    $('room-id').textContent = st.roomId;
    $('room-name').textContent = st.roomName;
    $('host-badge').hidden = !st.host;
    let text;
    if (config.dial_in) {
      text = `Call ${config.dial_in}, then enter room ${st.roomId}#`;
      if (st.pinRequired) text += st.pin ? ` and PIN ${st.pin}#` : ' and the PIN';
    } else {
      text = `Phone dial-in is not set up on this server. Room ID: ${st.roomId}`;
    }
    $('dial-in').textContent = text;
    if (st.host && st.hostKey) {
      const url = `${location.origin}${location.pathname}?room=${encodeURIComponent(st.roomId)}&host_key=${encodeURIComponent(st.hostKey)}`;
      $('host-link').href = url;
      $('host-link').textContent = url;
      $('host-link-row').hidden = false;
    } else {
      $('host-link-row').hidden = true;
    }
    setStatus(`In room ${st.roomId}`);
    render();
  }

  function setStatus(text) { $('status').textContent = text; }

  function showError(text) {
    const e = $('error');
    e.textContent = text;
    e.hidden = !text;
  }

  function showNotice(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = !text;
  }

  // ---- actions ----------------------------------------------------------------------------

  async function getMicrophone() {
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
        video: false,
      });
    } catch (e) {
      showNotice('No microphone: you can listen, but others will not hear you.');
      return null;
    }
  }

  async function join({ room = '', pin = '', name = '', hostKey = '' } = {}) {
    if (st.ws) throw new Error('already connected; leave first');
    showError('');
    showNotice('');
    st.myName = name;
    st.pin = pin;
    st.leaving = false;
    mesh.ensureAudioContext();
    setStatus('Starting the microphone…');
    mesh.setLocalStream(await getMicrophone());
    setStatus('Connecting…');
    try {
      await openSocket();
      const msg = { type: 'join_or_create', display_name: name, kind: 'web' };
      if (room) msg.room = room;
      if (pin) msg.pin = pin;
      if (hostKey) msg.host_key = hostKey;
      return await request(msg);
    } catch (e) {
      st.leaving = true;
      teardown();
      showError(e.message + (e.code ? ` (${e.code})` : ''));
      throw e;
    }
  }

  async function leave() {
    st.leaving = true;
    if (st.roomId !== null) await request({ type: 'leave' }).catch(() => {});
    teardown();
  }

  function teardown() {
    mesh.closeAll();
    for (const p of st.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('disconnected'));
    }
    st.pending.clear();
    const ws = st.ws;
    st.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
    st.roomId = null;
    st.clientId = null;
    st.host = false;
    st.hostKey = null;
    st.me = null;
    st.muted = false;
    st.participants.clear();
    $('participants').replaceChildren();
    $('room').hidden = true;
    $('join-form').hidden = false;
    applyLocalMute(false);
    setStatus('Not connected');
  }

  async function setMuted(muted) {
    applyLocalMute(muted);
    return request({ type: 'set_muted', muted });
  }

  async function hostAction(type, clientId) {
    try {
      return await request({ type, client_id: clientId });
    } catch (e) {
      showError(`${e.message} (${e.code || 'error'})`);
      return null;
    }
  }

  // ---- wiring -----------------------------------------------------------------------------

  const params = new URLSearchParams(location.search);
  const form = $('join-form');
  form.room.value = params.get('room') || '';
  form.pin.value = params.get('pin') || '';
  form.name.value = params.get('name') || '';
  form.host_key.value = params.get('host_key') || '';
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    join({
      room: form.room.value.trim(),
      pin: form.pin.value.trim(),
      name: form.name.value.trim(),
      hostKey: form.host_key.value.trim(),
    }).catch(() => {});
  });
  $('leave-button').addEventListener('click', () => leave());
  $('self-mute').addEventListener('click', () => setMuted(!st.muted).catch((e) => showError(e.message)));

  window.dialbridge = {
    get roomId() { return st.roomId; },
    get clientId() { return st.clientId; },
    get isHost() { return st.host; },
    get hostKey() { return st.hostKey; },
    get muted() { return st.muted; },
    get dialIn() { return config.dial_in || ''; },
    /** Everyone in the room, me first, with live level and speaking state. */
    participants() {
      const now = performance.now();
      const all = st.me ? [{ ...st.me, me: true }] : [];
      for (const p of st.participants.values()) all.push({ ...p, me: false });
      return all.map((p) => ({
        ...p,
        level: levelOf(p.client_id).level,
        speaking: isSpeaking(p.client_id, now),
        peer_state: p.me ? null : mesh.peerState(p.client_id),
      }));
    },
    /** client_id -> current audio level (0..1); my own ID maps to my microphone. */
    levels() {
      const out = {};
      if (st.clientId !== null) out[st.clientId] = mesh.levelOf(null).level;
      for (const id of mesh.peers.keys()) out[id] = mesh.levelOf(id).level;
      return out;
    },
    peers() { return mesh.info(); },
    events() { return st.events.slice(); },
    join,
    leave,
    setMuted,
    mute: (id) => hostAction('mute', id),
    kick: (id) => hostAction('kick', id),
  };
}
