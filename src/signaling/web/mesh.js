// The WebRTC side of the host page: one RTCPeerConnection per other participant (audio only),
// the signaling convention of docs/signaling-protocol.md (the newcomer offers; SDP as
// {sdp: {type, sdp}}, trickled candidates as {ice: {candidate, sdpMLineIndex, sdpMid}}), and
// audio levels: an AnalyserNode on each stream plus getStats' inbound audioLevel.

/** A level (0..1, linear RMS or getStats audioLevel) at or above this counts as speech. */
export const SPEAKING_LEVEL = 0.02;
/** Keeps the speaking highlight this long after the last loud sample, so it does not flicker. */
export const SPEAKING_HOLD_MS = 400;
const LEVEL_POLL_MS = 100;
const STATS_POLL_MS = 500;

export class Mesh {
  /**
   * sendSignal(to, payload) sends a `signal`; onChange() is called when a peer's connection
   * state changes; onLevels() after each level sample; sink is where <audio> elements go.
   */
  constructor({ sendSignal, onChange, onLevels, sink }) {
    this.sendSignal = sendSignal;
    this.onChange = onChange;
    this.onLevels = onLevels;
    this.sink = sink;
    this.peers = new Map(); // client_id -> peer
    this.localStream = null;
    this.local = { analyser: null, level: 0, lastLoud: 0, muted: false };
    this.audioCtx = null;
    setInterval(() => this.sample(), LEVEL_POLL_MS);
    setInterval(() => this.pollStats(), STATS_POLL_MS);
  }

  /** Creates or resumes the AudioContext; call it from a user gesture where possible. */
  ensureAudioContext() {
    if (!this.audioCtx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) this.audioCtx = new Ctx();
    }
    if (this.audioCtx && this.audioCtx.state === 'suspended') this.audioCtx.resume().catch(() => {});
  }

  /** The microphone stream to send (null: receive only). Set it before offering or answering. */
  setLocalStream(stream) {
    this.localStream = stream;
    this.local = { analyser: stream ? this.analyserFor(stream) : null, level: 0, lastLoud: 0, muted: false };
  }

  setLocalMuted(muted) {
    this.local.muted = muted;
    if (this.localStream) for (const t of this.localStream.getAudioTracks()) t.enabled = !muted;
  }

  createPeer(id) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const peer = {
      id, pc, localAdded: false, pendingIce: [], queue: Promise.resolve(),
      audio: null, stream: null, analyser: null, statsLevel: 0, level: 0, lastLoud: 0,
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate || !e.candidate.candidate) return;
      const c = e.candidate;
      this.sendSignal(id, { ice: { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid } });
    };
    pc.ontrack = (e) => this.attachRemote(peer, e.streams[0] || new MediaStream([e.track]));
    pc.onconnectionstatechange = () => this.onChange();
    this.peers.set(id, peer);
    return peer;
  }

  addLocalAudio(peer) {
    if (peer.localAdded) return;
    peer.localAdded = true;
    const track = this.localStream && this.localStream.getAudioTracks()[0];
    if (track) peer.pc.addTrack(track, this.localStream);
    else if (peer.pc.getTransceivers().length === 0) peer.pc.addTransceiver('audio', { direction: 'recvonly' });
  }

  /** Runs `step` after the peer's earlier signaling steps, so SDP and ICE keep their order. */
  enqueue(peer, step) {
    peer.queue = peer.queue.then(step).catch((e) => console.warn(`peer ${peer.id}:`, e));
  }

  /** We are the newcomer: offer to `id`. */
  offerTo(id) {
    const peer = this.peers.get(id) || this.createPeer(id);
    this.enqueue(peer, async () => {
      this.addLocalAudio(peer);
      const offer = await peer.pc.createOffer();
      await peer.pc.setLocalDescription(offer);
      this.sendSignal(id, { sdp: { type: 'offer', sdp: peer.pc.localDescription.sdp } });
    });
  }

  /** A relayed `signal` payload from `from`. An offer from someone new creates its peer. */
  onSignal(from, payload) {
    if (!payload || typeof payload !== 'object') return;
    const peer = this.peers.get(from) || this.createPeer(from);
    if (payload.sdp && payload.sdp.type === 'offer') {
      this.enqueue(peer, async () => {
        await peer.pc.setRemoteDescription({ type: 'offer', sdp: payload.sdp.sdp });
        this.addLocalAudio(peer);
        const answer = await peer.pc.createAnswer();
        await peer.pc.setLocalDescription(answer);
        this.sendSignal(from, { sdp: { type: 'answer', sdp: peer.pc.localDescription.sdp } });
        await this.flushIce(peer);
      });
    } else if (payload.sdp && payload.sdp.type === 'answer') {
      this.enqueue(peer, async () => {
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: payload.sdp.sdp });
        await this.flushIce(peer);
      });
    } else if (payload.ice && typeof payload.ice.candidate === 'string') {
      // Candidates that come before the remote description wait for it.
      this.enqueue(peer, async () => {
        peer.pendingIce.push(payload.ice);
        if (peer.pc.remoteDescription) await this.flushIce(peer);
      });
    }
  }

  async flushIce(peer) {
    for (const ice of peer.pendingIce.splice(0)) {
      const init = { candidate: ice.candidate };
      if (typeof ice.sdpMLineIndex === 'number') init.sdpMLineIndex = ice.sdpMLineIndex;
      if (typeof ice.sdpMid === 'string') init.sdpMid = ice.sdpMid;
      if (init.sdpMid === undefined && init.sdpMLineIndex === undefined) init.sdpMLineIndex = 0;
      try {
        await peer.pc.addIceCandidate(init);
      } catch (e) {
        console.warn(`peer ${peer.id}: bad ICE candidate`, e);
      }
    }
  }

  attachRemote(peer, stream) {
    if (peer.stream === stream) return;
    peer.stream = stream;
    // An unmuted <audio> element plays the stream; without one Chromium's analysers and
    // getStats report silence for remote WebRTC audio.
    const audio = peer.audio || document.createElement('audio');
    audio.autoplay = true;
    audio.muted = false;
    audio.setAttribute('data-testid', 'remote-audio');
    audio.setAttribute('data-client-id', String(peer.id));
    audio.srcObject = stream;
    if (!peer.audio) this.sink.appendChild(audio);
    peer.audio = audio;
    audio.play().catch(() => {});
    peer.analyser = this.analyserFor(stream);
    this.onChange();
  }

  close(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.pc.close();
    if (peer.audio) {
      peer.audio.srcObject = null;
      peer.audio.remove();
    }
  }

  /** Closes every peer and stops the microphone. */
  closeAll() {
    for (const id of [...this.peers.keys()]) this.close(id);
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
    this.setLocalStream(null);
  }

  analyserFor(stream) {
    if (!this.audioCtx) return null;
    try {
      const source = this.audioCtx.createMediaStreamSource(stream);
      const analyser = this.audioCtx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      return analyser;
    } catch (e) {
      return null;
    }
  }

  sample() {
    const now = performance.now();
    for (const peer of this.peers.values()) {
      peer.level = Math.max(rms(peer.analyser), peer.statsLevel);
      if (peer.level >= SPEAKING_LEVEL) peer.lastLoud = now;
    }
    this.local.level = this.local.muted ? 0 : rms(this.local.analyser);
    if (this.local.level >= SPEAKING_LEVEL) this.local.lastLoud = now;
    this.onLevels(now);
  }

  async pollStats() {
    for (const peer of this.peers.values()) {
      try {
        const report = await peer.pc.getStats();
        let level = 0;
        report.forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio' && typeof r.audioLevel === 'number') {
            level = Math.max(level, r.audioLevel);
          }
        });
        peer.statsLevel = level;
      } catch (e) {
        peer.statsLevel = 0;
      }
    }
  }

  /** The level of peer `id`, or of the microphone when `id` is null. */
  levelOf(id) {
    const src = id === null ? this.local : this.peers.get(id);
    return src ? { level: src.level, lastLoud: src.lastLoud } : { level: 0, lastLoud: 0 };
  }

  isSpeaking(id, now = performance.now()) {
    const { lastLoud } = this.levelOf(id);
    return lastLoud > 0 && now - lastLoud < SPEAKING_HOLD_MS;
  }

  peerState(id) {
    const peer = this.peers.get(id);
    return peer ? peer.pc.connectionState : null;
  }

  info() {
    const out = {};
    for (const peer of this.peers.values()) {
      out[peer.id] = {
        connectionState: peer.pc.connectionState,
        iceConnectionState: peer.pc.iceConnectionState,
        hasAudio: !!peer.stream,
      };
    }
    return out;
  }
}

function rms(analyser) {
  if (!analyser) return 0;
  const buf = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(buf);
  let sum = 0;
  for (const v of buf) sum += v * v;
  return Math.sqrt(sum / buf.length);
}
