import { RiboError } from '../../errors.js';

/** An image archive or layout that cannot be read or written; the message names the file. */
export class ArchiveError extends RiboError {}
