/**
 * The image the archive and interop tests exchange: a symlink, a hardlink, a
 * setuid file, a file owned by uid 1000, a file deleted by a later layer and
 * a directory deleted and made again (an opaque directory).
 */
export const ARCHIVE_DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /data/old && echo gone > /data/gone.txt && echo a > /data/old/a.txt && echo b > /data/old/b.txt
RUN rm /data/gone.txt && rm -rf /data/old && mkdir /data/old && echo new > /data/old/c.txt \\
 && echo hi > /data/file.txt && ln /data/file.txt /data/hard.txt && ln -s file.txt /data/link \\
 && cp /bin/busybox /data/suid && chmod 4755 /data/suid \\
 && echo mine > /data/user.txt && chown 1000:1000 /data/user.txt
CMD ["/bin/sh", "-c", "echo archived; cat /data/old/c.txt /data/link; ls /data/old"]
`;

/** What the image's CMD prints. */
export const ARCHIVE_OUTPUT = 'archived\nnew\nhi\nc.txt';
