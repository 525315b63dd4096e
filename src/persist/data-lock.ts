/**
 * One engine per data folder: a LOCK file holding the owner's pid. A lock left by a process
 * that no longer runs (kill -9) is taken over; a live owner is an error that says who.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HotvecError } from '../errors.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export class DataLock {
  private constructor(private readonly path: string) {}

  static async acquire(dataDir: string): Promise<DataLock> {
    const path = join(dataDir, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, 'wx');
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return new DataLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
          throw new HotvecError('INVALID_CONFIG', `data folder ${dataDir} is in use by process ${pid}; stop it or choose another --data-dir`);
        }
        await rm(path, { force: true });
      }
    }
    throw new HotvecError('INVALID_CONFIG', `could not lock data folder ${dataDir}`);
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
