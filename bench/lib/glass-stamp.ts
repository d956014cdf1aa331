// The time code the glass-to-ingest measurement draws into every frame, and its reader.
// A grid of large black and white squares on a mid-grey canvas: one reference row (white, black,
// white, …) that sets the threshold, then the capture time (Date.now(), in ms) and a check value.
// Squares of 48 px on the 16 px macroblock grid come through H.264 at 2.5 Mb/s with sharp edges;
// the check turns the rare misread (a frame still being refined after a key frame, a decoder
// concealing a lost slice) into an unreadable frame instead of a wrong figure.
// Arithmetic only, no bit operators: Date.now() needs more than the 32 bits those work on.

/** Where the code sits in the source frame and how it is built. */
export interface StampLayout {
  /** Source canvas size. */
  readonly width: number;
  readonly height: number;
  /** Top-left corner of the grid, on the macroblock grid. */
  readonly x: number;
  readonly y: number;
  /** Side of one square, px. */
  readonly cell: number;
  readonly cols: number;
  /** Rows of data below the reference row. */
  readonly dataRows: number;
  /** Bits of the ms timestamp: 44 hold Date.now() until the year 2527. */
  readonly timeBits: number;
  /** Bits of the check value (the timestamp modulo `checkModulus`). */
  readonly checkBits: number;
  /** A prime below 2^checkBits: no single-bit error of the timestamp keeps the same remainder. */
  readonly checkModulus: number;
}

/** 8 × 8 squares of 48 px (one reference row, 7 × 8 = 56 data bits) in the middle of a 1280×720 frame. */
export const STAMP_LAYOUT: StampLayout = {
  width: 1280,
  height: 720,
  x: 448,
  y: 160,
  cell: 48,
  cols: 8,
  dataRows: 7,
  timeBits: 44,
  checkBits: 12,
  checkModulus: 4093,
};

/**
 * Which squares are white for `value`, reference row first, row by row. Self-contained (no
 * reference to anything outside it): the page runs its source text to draw the same code.
 */
export function stampCells(value: number, layout: StampLayout): boolean[] {
  const cells: boolean[] = [];
  for (let c = 0; c < layout.cols; c++) cells.push(c % 2 === 0);
  const bits = (n: number, count: number) => {
    for (let i = count - 1; i >= 0; i--) cells.push(Math.floor(n / 2 ** i) % 2 === 1);
  };
  bits(value, layout.timeBits);
  bits(value % layout.checkModulus, layout.checkBits);
  while (cells.length < layout.cols * (layout.dataRows + 1)) cells.push(false);
  return cells;
}

/** The region a player crops out of the frame: the grid alone. */
export function stampCrop(layout: StampLayout): { x: number; y: number; w: number; h: number } {
  return { x: layout.x, y: layout.y, w: layout.cols * layout.cell, h: (layout.dataRows + 1) * layout.cell };
}

// Below this contrast between the reference squares the frame is not one of ours (a grey frame
// concealing a missing reference, a decoder still waiting for a key frame).
const MIN_CONTRAST = 64;

/**
 * Reads the timestamp from a grey (8-bit luma) frame cropped to {@link stampCrop}. Each square is
 * the mean of its inner half, which keeps compression ringing at the edges out. Undefined when the
 * reference squares lack contrast or the check value does not match.
 */
export function readStamp(gray: Uint8Array, layout: StampLayout): number | undefined {
  const { w } = stampCrop(layout);
  const margin = Math.floor(layout.cell / 4);
  const mean = (index: number) => {
    const x0 = (index % layout.cols) * layout.cell + margin;
    const y0 = Math.floor(index / layout.cols) * layout.cell + margin;
    let sum = 0;
    for (let y = y0; y < y0 + layout.cell - 2 * margin; y++) {
      for (let x = x0; x < x0 + layout.cell - 2 * margin; x++) sum += gray[y * w + x]!;
    }
    return sum / (layout.cell - 2 * margin) ** 2;
  };
  const white: number[] = [];
  const black: number[] = [];
  for (let c = 0; c < layout.cols; c++) (c % 2 === 0 ? white : black).push(mean(c));
  const darkestWhite = Math.min(...white);
  const lightestBlack = Math.max(...black);
  if (darkestWhite - lightestBlack < MIN_CONTRAST) return undefined;
  const threshold = (darkestWhite + lightestBlack) / 2;
  let index = layout.cols;
  const read = (count: number) => {
    let n = 0;
    for (let i = 0; i < count; i++) n = n * 2 + (mean(index++) > threshold ? 1 : 0);
    return n;
  };
  const value = read(layout.timeBits);
  return read(layout.checkBits) === value % layout.checkModulus ? value : undefined;
}
