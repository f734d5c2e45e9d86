// Progress of the main job: on a terminal an ora spinner with the step, its elapsed time and the usual
// duration; elsewhere (CI logs, pipes) plain lines — the start, a line every 30 s, the end.
import ora from 'ora';

export interface Task {
  /** A line of the step's own output (printed above the spinner, or as is). */
  log(line: string): void;
  end(result: 'ok' | 'fail', line: string): void;
}

export interface Progress {
  line(text: string): void;
  /** Starts a step; `estimateS` is shown as the usual duration. */
  start(title: string, estimateS: number): Task;
}

const mmss = (s: number): string => `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;

export function progress(out: NodeJS.WritableStream, o: { verbose?: boolean } = {}): Progress {
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  const write = (l: string) => out.write(`${l}\n`);
  return {
    line: write,
    start(title, estimateS) {
      const t0 = Date.now();
      const status = () => `${title} — ${mmss((Date.now() - t0) / 1000)} elapsed (usually about ${mmss(estimateS)})`;
      if (tty) {
        const spinner = ora({ text: status(), stream: out as NodeJS.WriteStream }).start();
        const tick = setInterval(() => (spinner.text = status()), 1000);
        return {
          log(line) {
            if (!o.verbose) return;
            spinner.clear();
            write(line);
            spinner.render();
          },
          end(result, line) {
            clearInterval(tick);
            if (result === 'ok') spinner.succeed(line);
            else spinner.fail(line);
          },
        };
      }
      write(`${title} …`);
      const tick = setInterval(() => write(`  … ${status()}`), 30_000);
      tick.unref();
      return {
        log(line) {
          if (o.verbose) write(line);
        },
        end(result, line) {
          clearInterval(tick);
          write(`${result === 'ok' ? 'ok  ' : 'FAIL'} ${line}`);
        },
      };
    },
  };
}
