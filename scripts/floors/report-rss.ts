/** Waits FLOOR_SECONDS (default 30), prints the process's VmRSS in kB on stdout, and exits. */
export async function reportRss(): Promise<never> {
  await Bun.sleep(Number(process.env.FLOOR_SECONDS ?? 30) * 1000);
  const status = await Bun.file("/proc/self/status").text();
  process.stdout.write(`${/VmRSS:\s+(\d+)/.exec(status)?.[1]}\n`);
  process.exit(0);
}
