import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';

/** What the figures were measured on. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  bun: string;
  ffmpeg: string;
}

/** Describes this machine: cores, CPU model, memory, kernel, Bun and FFmpeg versions. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(cpuinfo)?.[1];
  const ff = Bun.spawn(['ffmpeg', '-hide_banner', '-version'], { stdout: 'pipe', stderr: 'ignore' });
  const ffLine = (await new Response(ff.stdout).text()).split('\n')[0] ?? '';
  await ff.exited;
  return {
    cores: availableParallelism(),
    cpuModel: mhz ? `${model} @ ${Math.round(Number(mhz))} MHz` : model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    bun: Bun.version,
    ffmpeg: ffLine.replace(/^ffmpeg version /, '').split(' ')[0] ?? 'unknown',
  };
}
