import { spawn } from 'node:child_process';

/**
 * Marks each dir as the top of its own directory hierarchies for ext4's Orlov
 * allocator (`chattr +T`, as /home often is; Node has no ioctl call): each
 * directory made directly in one goes to a block group chosen by the hash of
 * its name among those with the most room and fewest directories, and the
 * files under it follow, rather than next to the marked dir.
 *
 * Why: ext4 without a journal does not reuse an inode freed in the last
 * minute (five while its inode table block is dirty), and looks past each
 * such inode at every file it creates. A tree made where a removed one was
 * pays that at each file: 6,000 small files took 0.5-4.5 s instead of 0.3 s
 * on such a file system, and a planned `ribo run --rm` (some 20 files made and
 * removed) took 66 ms instead of 49. Elsewhere (a journal, another file
 * system) only the place of new trees changes. Where the flag is unknown
 * (tmpfs, xfs, btrfs) chattr fails, and that is ignored: this is about speed
 * only.
 */
export function markTopDir(...dirs: string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('chattr', ['+T', ...dirs], { stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}
