/**
 * The broadcaster page: wires the form, the preview and the status panel to the broadcast client.
 * All protocol work lives in broadcast-client.ts; this file is only UI.
 */

import { prepareBroadcast, startBroadcast, type Broadcast, type CaptureOptions, type CapturePath, type PreferredCodec } from './broadcast-client.js';
import { describeMediaError, listDevices, openStream, stopStream } from './devices.js';
import { describeError } from './error-messages.js';
import { describeMimeType, describePipeline } from './mime-types.js';
import { readPageParams, sameOriginRelay } from './page-params.js';
import { PLAYBACK_PATH, playLiveMp4 } from './playback.js';
import { certificatePageUrl, toStreamUrls } from './relay-urls.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

const ui = {
  form: $<HTMLFormElement>('form'),
  camera: $<HTMLSelectElement>('camera'),
  microphone: $<HTMLSelectElement>('microphone'),
  ingest: $<HTMLInputElement>('ingest'),
  streamKey: $<HTMLInputElement>('stream-key'),
  showKey: $<HTMLButtonElement>('show-key'),
  addDestination: $<HTMLButtonElement>('add-destination'),
  secondDestination: $<HTMLElement>('second-destination'),
  ingest2: $<HTMLInputElement>('ingest-2'),
  streamKey2: $<HTMLInputElement>('stream-key-2'),
  relays: $<HTMLInputElement>('relays'),
  token: $<HTMLInputElement>('token'),
  codec: $<HTMLSelectElement>('codec'),
  capture: $<HTMLSelectElement>('capture'),
  bitrate: $<HTMLSelectElement>('bitrate'),
  start: $<HTMLButtonElement>('start'),
  stop: $<HTMLButtonElement>('stop'),
  preview: $<HTMLVideoElement>('preview'),
  playback: $<HTMLVideoElement>('playback'),
  playbackFigure: $<HTMLElement>('playback-figure'),
  certNote: $<HTMLElement>('cert-note'),
  certLink: $<HTMLAnchorElement>('cert-link'),
  state: $<HTMLElement>('state'),
  codecInfo: $<HTMLElement>('codec-info'),
  pipeline: $<HTMLElement>('pipeline'),
  relay: $<HTMLElement>('relay'),
  destinations: $<HTMLElement>('destinations'),
  bitrateInfo: $<HTMLElement>('bitrate-info'),
  targetBitrate: $<HTMLElement>('target-bitrate'),
  uplink: $<HTMLElement>('uplink'),
  fps: $<HTMLElement>('fps'),
  speed: $<HTMLElement>('speed'),
  dropped: $<HTMLElement>('dropped'),
  buffered: $<HTMLElement>('buffered'),
  message: $<HTMLElement>('message'),
  log: $<HTMLOListElement>('log'),
};

const params = readPageParams(window.location, window.history);
let stream: MediaStream | undefined;
let broadcast: Broadcast | undefined;
let playbackAbort: AbortController | undefined;
/** Made in the Go-live click: see {@link primeAudio}. */
let audioPrimer: AudioContext | undefined;

/**
 * Creates and resumes an AudioContext inside the Go-live click. Autoplay rules (Safari's, Chrome's,
 * Firefox's) let a page start audio only after a gesture, and the WebCodecs path's audio capture
 * runs through an AudioContext where the browser lacks MediaStreamTrackProcessor (Firefox, Safari):
 * started here, the page has its gesture's permission before the capture asks. Must run before
 * the click handler's first await. Closed when the broadcast ends.
 */
function primeAudio(): void {
  if (audioPrimer || typeof AudioContext === 'undefined') return;
  try {
    audioPrimer = new AudioContext();
    void audioPrimer.resume().catch(() => undefined);
  } catch {
    audioPrimer = undefined;
  }
}

function releaseAudio(): void {
  void audioPrimer?.close().catch(() => undefined);
  audioPrimer = undefined;
}

function setState(state: string): void {
  ui.state.textContent = state;
  ui.state.dataset.state = state;
}

function showMessage(text: string, kind: 'error' | 'warning' = 'error', code?: string): void {
  ui.message.hidden = false;
  ui.message.className = `message ${kind}`;
  ui.message.textContent = text;
  if (code) ui.message.dataset.code = code;
  else delete ui.message.dataset.code;
}

function clearMessage(): void {
  ui.message.hidden = true;
  ui.message.textContent = '';
  delete ui.message.dataset.code;
}

function log(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  ui.log.prepend(item);
  while (ui.log.children.length > 50) ui.log.lastElementChild?.remove();
}

function relayAddresses(): string[] {
  const typed = ui.relays.value.trim();
  return toStreamUrls(typed === '' ? sameOriginRelay(window.location) : typed);
}

/**
 * Shows the certificate note for wss relays on another origin: a self-signed certificate that
 * was never accepted makes the WebSocket fail with no explanation (the original sample's
 * biggest complaint). A relay that served this very page over https is already trusted.
 */
function updateCertNote(force = false): void {
  let urls: string[] = [];
  try {
    urls = relayAddresses();
  } catch {
    // An address being typed; the note waits for a valid one.
  }
  const foreign = urls.find((u) => {
    const url = new URL(u);
    return url.protocol === 'wss:' && (url.host !== window.location.host || window.location.protocol !== 'https:');
  });
  const target = foreign ?? (force ? urls.find((u) => u.startsWith('wss:')) : undefined);
  const page = target ? certificatePageUrl(target) : undefined;
  ui.certNote.hidden = !page;
  if (page) ui.certLink.href = page;
}

function fillSelect(select: HTMLSelectElement, devices: MediaDeviceInfo[], current: string | undefined, noun: string): void {
  select.replaceChildren(
    ...devices.map((d, i) => {
      const option = document.createElement('option');
      option.value = d.deviceId;
      option.textContent = d.label || `${noun} ${i + 1}`;
      option.selected = d.deviceId === current;
      return option;
    }),
  );
}

/** How the form asks the broadcast to record: the same for prepareBroadcast and startBroadcast. */
function captureOptions(open: MediaStream): CaptureOptions {
  return {
    stream: open,
    videoBitsPerSecond: Number(ui.bitrate.value),
    preferCodec: ui.codec.value as PreferredCodec,
    capture: ui.capture.value as CapturePath,
  };
}

/**
 * Checks the capture path while the user fills the form (the encoders, the muxer, a trial
 * recording), so that "Go live" only has to connect. Again whenever an option it depends on changes.
 */
function prepare(): void {
  if (stream && !broadcast) prepareBroadcast(captureOptions(stream));
}

async function openDevices(): Promise<void> {
  stopStream(stream);
  stream = undefined;
  try {
    stream = await openStream(ui.camera.value || undefined, ui.microphone.value || undefined);
  } catch (error) {
    showMessage(describeMediaError(error));
    return;
  }
  ui.preview.srcObject = stream;
  const { cameras, microphones } = await listDevices();
  fillSelect(ui.camera, cameras, stream.getVideoTracks()[0]?.getSettings().deviceId, 'Camera');
  fillSelect(ui.microphone, microphones, stream.getAudioTracks()[0]?.getSettings().deviceId, 'Microphone');
  prepare();
}

function setLiveControls(active: boolean): void {
  for (const el of [ui.camera, ui.microphone, ui.ingest, ui.streamKey, ui.relays, ui.token, ui.codec, ui.capture, ui.bitrate, ui.start]) {
    el.disabled = active;
  }
  ui.stop.disabled = !active;
}

function resetStats(): void {
  for (const el of [ui.codecInfo, ui.pipeline, ui.relay, ui.destinations, ui.bitrateInfo, ui.targetBitrate, ui.uplink, ui.fps, ui.speed, ui.dropped, ui.buffered]) el.textContent = '–';
}

/**
 * Demo only: plays what the local RTMP sink received, retrying while the sink has not got the
 * stream yet. The playback server plays the sink's current stream: the stream key is never put
 * in its URL (params.playback is set only for a loopback page and a loopback server).
 */
async function startPlayback(): Promise<void> {
  if (!params.playback) return;
  playbackAbort?.abort();
  const abort = new AbortController();
  playbackAbort = abort;
  const url = new URL(PLAYBACK_PATH, params.playback).toString();
  for (let tries = 0; !abort.signal.aborted && tries < 20; tries++) {
    try {
      await playLiveMp4(ui.playback, url, abort.signal);
    } catch (error) {
      if (abort.signal.aborted) return;
      log(`playback: ${error instanceof Error ? error.message : String(error)}; retrying`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function stopPlayback(): void {
  playbackAbort?.abort();
  playbackAbort = undefined;
}

async function goLive(): Promise<void> {
  clearMessage();
  if (!stream) await openDevices();
  if (!stream) return;
  const ingest = ui.ingest.value.trim();
  const streamKey = ui.streamKey.value.trim();
  if (!/^rtmps?:\/\//i.test(ingest)) {
    showMessage('Enter the ingest URL: it starts with rtmps:// (Amazon IVS) or rtmp://.', 'error', 'INGEST_URL');
    return;
  }
  if (streamKey === '') {
    showMessage('Enter the stream key from your ingest (Amazon IVS: channel → stream key).', 'error', 'STREAM_KEY');
    return;
  }
  const ingest2 = ui.ingest2.value.trim();
  const streamKey2 = ui.streamKey2.value.trim();
  const second = !ui.secondDestination.hidden && (ingest2 !== '' || streamKey2 !== '');
  if (second && (!/^rtmps?:\/\//i.test(ingest2) || streamKey2 === '')) {
    showMessage('Second destination: enter its ingest URL (rtmps:// or rtmp://) and its stream key, or leave both empty.', 'error', 'INGEST_URL');
    return;
  }
  let relayUrl: string[];
  try {
    relayUrl = relayAddresses();
    if (relayUrl.length === 0) throw new Error('enter at least one relay address, or leave the field empty for this page’s relay');
  } catch (error) {
    showMessage(`Relay address: ${error instanceof Error ? error.message : String(error)}`, 'error', 'RELAY_URL');
    return;
  }
  resetStats();
  setLiveControls(true);
  const b = startBroadcast({
    relayUrl,
    token: ui.token.value.trim(),
    ingest,
    streamKey,
    destinations: second ? [{ ingest: ingest2, streamKey: streamKey2 }] : [],
    ...captureOptions(stream),
  });
  broadcast = b;
  b.on('connecting', (d) => {
    setState('connecting');
    ui.relay.textContent = d.relayUrl;
    log(d.reason === 'failover' ? `relay failed (${d.previousCode}); trying ${d.relayUrl}` : `connecting to ${d.relayUrl}`);
  });
  b.on('ready', (d) => {
    setState('ready');
    const fallback = d.captureFallback ? `; WebCodecs did not start: ${d.captureFallback}` : '';
    ui.codecInfo.textContent = `${describeMimeType(d.mimeType)} from ${d.capture === 'webcodecs' ? 'WebCodecs' : 'MediaRecorder'} (${d.mimeType})${fallback}`;
    ui.codecInfo.dataset.fallback = d.captureFallback ? 'mediarecorder' : '';
    ui.pipeline.textContent = describePipeline(d.pipeline, d.mimeType);
    log(`ready: session ${d.session}, pipeline ${d.pipeline}, capture ${d.capture}`);
    if (d.captureFallback) log(`capture: recording with MediaRecorder because WebCodecs did not start (${d.captureFallback})`);
  });
  b.on('live', () => {
    setState('live');
    clearMessage();
    log('live');
    void startPlayback();
  });
  b.on('reconnecting', (r) => {
    setState('reconnecting');
    showMessage(`Reconnecting… the relay lost the ingest (${r.message}); try ${r.attempt} in ${(r.retryInMs / 1000).toFixed(1)} s.`, 'warning', 'RECONNECTING');
    log(`reconnecting (${r.code}, try ${r.attempt})`);
  });
  b.on('stats', (s) => {
    ui.bitrateInfo.textContent = `${Math.round(s.bitrateKbps)} kbps (target ${Math.round(s.videoBitsPerSecond / 1000)} kbps)`;
    ui.fps.textContent = `${s.fps}`;
    ui.speed.textContent = `${s.speed}×`;
    ui.dropped.textContent = `${s.droppedFrames}`;
    ui.buffered.textContent = `${Math.round(s.bufferedAmount / 1024)} KiB`;
    if (s.destinations) ui.destinations.textContent = s.destinations.map((d) => `${d.ingest} ${d.state}`).join(' · ');
  });
  b.on('bitrate', (r) => {
    // What the encoder aims at now (WebCodecs follows the uplink in place) and what the link carried.
    ui.targetBitrate.textContent = `${Math.round(r.videoBitsPerSecond / 1000)} kbps`;
    ui.uplink.textContent = r.uplinkBitsPerSecond === undefined
      ? 'keeps up (not measured)'
      : `${(r.uplinkBitsPerSecond / 1_000_000).toFixed(2)} Mbps, ${r.backlogMs} ms waiting`;
  });
  b.on('warning', (w) => {
    showMessage(w.message, 'warning', w.code);
    log(`warning ${w.code}`);
  });
  b.on('error', (e) => {
    const advice = describeError(e.code);
    if (e.code === 'CONNECTION_FAILED') updateCertNote(true);
    const certHint = e.code === 'CONNECTION_FAILED' && !ui.certNote.hidden ? ' Accept the relay’s certificate first: see the note at the top.' : '';
    // A capture failure's message names what did not start, a congestion's what the link carried: the user needs it to act.
    const what = e.code === 'CAPTURE_FAILED' || e.code === 'CONGESTED' ? ` ${e.message}` : '';
    showMessage(`${advice.title}${what} ${advice.action}${certHint}`, 'error', e.code);
    log(`error ${e.code}${e.closeCode ? ` (close ${e.closeCode})` : ''}: ${e.message}`);
  });
  b.on('ended', (d) => {
    setState(d.reason === 'error' ? 'failed' : 'ended');
    log(`ended (${d.reason})`);
    setLiveControls(false);
    stopPlayback();
    releaseAudio();
    if (broadcast === b) broadcast = undefined;
  });
}

function init(): void {
  ui.ingest.value = params.ingest;
  // No relay-address preset from the URL: a crafted link could otherwise send the token and the
  // stream key to someone else's relay. Empty means this page's own relay.
  if ([...ui.codec.options].some((o) => o.value === params.codec)) ui.codec.value = params.codec;
  if ([...ui.capture.options].some((o) => o.value === params.capture)) ui.capture.value = params.capture;
  ui.relays.placeholder = sameOriginRelay(window.location);
  if (params.scrubbedSecret) {
    showMessage('A stream key or token was in the address; it was removed from it. Paste secrets only into the fields.', 'warning');
  }
  if (params.playback) {
    // Local demo: the embedded sink accepts any key, so offer a random one (never shown in the URL).
    ui.playbackFigure.hidden = false;
    ui.streamKey.value = `demo-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16)}`;
  }
  updateCertNote();
  ui.relays.addEventListener('change', () => updateCertNote());
  ui.addDestination.addEventListener('click', () => {
    const show = ui.secondDestination.hidden;
    ui.secondDestination.hidden = !show;
    ui.addDestination.textContent = show ? 'Remove the second destination' : 'Add a second destination';
    ui.addDestination.setAttribute('aria-expanded', String(show));
  });
  ui.showKey.addEventListener('click', () => {
    const show = ui.streamKey.type === 'password';
    ui.streamKey.type = show ? 'text' : 'password';
    ui.showKey.textContent = show ? 'Hide' : 'Show';
    ui.showKey.setAttribute('aria-pressed', String(show));
  });
  for (const select of [ui.codec, ui.capture, ui.bitrate]) select.addEventListener('change', prepare);
  ui.camera.addEventListener('change', () => void openDevices());
  ui.microphone.addEventListener('change', () => void openDevices());
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    primeAudio();
    void goLive();
  });
  ui.stop.addEventListener('click', () => {
    setState('stopping');
    ui.stop.disabled = true;
    void broadcast?.stop();
  });
  window.addEventListener('pagehide', () => void broadcast?.stop());
  void openDevices();
}

init();
