/**
 * Lab setup shared by the tiers that run on lab hosts.
 */

/**
 * Fails, saying why, unless this process is root: lab hosts are network
 * namespaces with their own sshd. A tier that cannot run fails; it never
 * passes silently.
 */
export function requireRoot(tier: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${tier} needs root (lab hosts are namespaces with sshd)`);
  }
}
