import cliProgress from 'cli-progress';
import type { StepTerms } from './engine';

/** Live progress of a run: a bar on a terminal, nothing otherwise (epoch lines still go to the log). */
export interface ProgressReporter {
  update(
    step: number,
    info: { epoch: number; epochs: number; terms: StepTerms; images: number; stepMs: number },
  ): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
}

/** The loss's own terms, as the loss names them: ` (attractor 1.2, repeller 0.03)`. */
function termsText(terms: StepTerms): string {
  const parts = Object.entries(terms).filter(([name]) => name !== 'loss');
  return parts.length === 0 ? '' : ` (${parts.map(([name, v]) => `${name} ${format(v)}`).join(' ')})`;
}

/**
 * A cli-progress bar on stderr with step/s, images/s, the loss terms and the ETA, shown only when
 * stderr is a terminal and `enabled`; rates are smoothed over the last steps.
 */
export function createProgressReporter(options: {
  enabled: boolean;
  total: number;
  start: number;
  log: (line: string) => void;
}): ProgressReporter {
  const { enabled, total, start, log } = options;
  if (!enabled || !process.stderr.isTTY) {
    return { update() {}, log, stop() {} };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format:
        'epoch {epoch}/{epochs} {bar} {value}/{total} | {stepsPerSec} step/s {imagesPerSec} img/s | ' +
        'loss {loss}{terms} | ETA {eta_formatted}',
      barsize: 24,
      etaBuffer: 50,
      hideCursor: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, start, {
    epoch: '-',
    epochs: '-',
    stepsPerSec: '-',
    imagesPerSec: '-',
    loss: '-',
    terms: '',
  });
  let smoothMs = 0;
  let stopped = false;
  return {
    update(step, info) {
      smoothMs = smoothMs === 0 ? info.stepMs : 0.9 * smoothMs + 0.1 * info.stepMs;
      bar.update(step, {
        epoch: info.epoch,
        epochs: info.epochs,
        stepsPerSec: (1000 / smoothMs).toFixed(2),
        imagesPerSec: ((1000 * info.images) / smoothMs).toFixed(0),
        loss: format(info.terms.loss),
        terms: termsText(info.terms),
      });
    },
    log(line) {
      if (stopped) return log(line);
      // Clear the bar's line, print, and let the next redraw put the bar back.
      process.stderr.write('\r\x1b[K');
      log(line);
      bar.render();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
