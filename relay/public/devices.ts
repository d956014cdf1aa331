/** Camera and microphone: listing, opening, and explaining getUserMedia failures. */

/** The inputs the page can offer. */
export interface DeviceLists {
  readonly cameras: MediaDeviceInfo[];
  readonly microphones: MediaDeviceInfo[];
}

/** Lists inputs. Labels are only filled once the user granted access, so call it after {@link openStream}. */
export async function listDevices(): Promise<DeviceLists> {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: devices.filter((d) => d.kind === 'videoinput'),
    microphones: devices.filter((d) => d.kind === 'audioinput'),
  };
}

/**
 * Opens the chosen camera and microphone (or the defaults). 720p30 is asked as `ideal`, not
 * `exact`, so a camera that cannot do it still opens at what it can.
 */
export function openStream(cameraId?: string, microphoneId?: string): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) {
    return Promise.reject(new DOMException('getUserMedia needs a secure context (https:// or http://localhost).', 'SecurityError'));
  }
  return navigator.mediaDevices.getUserMedia({
    video: {
      ...(cameraId ? { deviceId: { exact: cameraId } } : {}),
      width: { ideal: 1280 },
      height: { ideal: 720 },
      frameRate: { ideal: 30 },
    },
    audio: {
      ...(microphoneId ? { deviceId: { exact: microphoneId } } : {}),
      echoCancellation: true,
      noiseSuppression: true,
    },
  });
}

/** A sentence for a getUserMedia failure. */
export function describeMediaError(error: unknown): string {
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
      return 'Camera or microphone access was refused. Allow it in the browser’s site settings, then reload.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera or microphone matching the choice was found. Plug one in or pick another.';
    case 'NotReadableError':
      return 'The camera or microphone is in use by another application, or the system blocked it.';
    case 'SecurityError':
      return 'The camera needs a secure page: open it over https:// (or http://localhost / 127.0.0.1).';
    default:
      return `Could not open the camera or microphone (${error instanceof Error ? error.message : String(error)}).`;
  }
}

/** Stops every track of a stream (the page owns the stream; the broadcast client never stops it). */
export function stopStream(stream: MediaStream | undefined): void {
  stream?.getTracks().forEach((track) => track.stop());
}
