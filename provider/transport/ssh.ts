/**
 * The only code that speaks SSH. A {@link HostSession} is one SSH connection to
 * one host, through which commands stream: each runs in one of a few
 * long-lived shell channels, framed by a marker line that carries its exit
 * code, so a command costs one round trip instead of a new channel (~110 ms on
 * loopback) or a new connection (~95 ms more).
 */

import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import { TransportError } from "../errors";
import { type Connection, connectionKey, fingerprintOf, pinnedFingerprint } from "./connection";

/** What a command left behind: its output and its exit code (a non-zero exit is a result, not an exception). */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Counters for the benchmark and the tests: what this process opened. */
export const transportStats = { connections: 0, channels: 0, commands: 0 };

/**
 * Shell channels per connection. OpenSSH allows 10 sessions per connection
 * (`MaxSessions`); staying well below leaves room for a user's own sessions
 * and for the jump host's forwarding channel.
 */
export const MAX_SHELLS_PER_CONNECTION = 4;

/** A command that does not finish in this time is abandoned and its shell closed. */
const COMMAND_TIMEOUT_MS = 120_000;

/** Minimum and maximum pause between dial attempts while a host boots. */
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 2_000;

interface PendingCommand {
  readonly script: string;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One `sh` running in one channel. Commands are written to its stdin one at a
 * time; after each, the shell prints a marker with the exit code on stdout and
 * a marker on stderr, which is how we know both streams of that command ended.
 */
class Shell {
  private stdout: Buffer = Buffer.alloc(0);
  private stderr: Buffer = Buffer.alloc(0);
  private current?: PendingCommand;
  private timer?: NodeJS.Timeout;
  closed = false;

  constructor(
    private readonly channel: ClientChannel,
    private readonly marker: string,
    private readonly onIdle: () => void,
    private readonly onClosed: (shell: Shell, error: Error) => void,
    /** Turns a raw failure into the error a caller sees (one that names the host). */
    private readonly describe: (error: Error) => Error,
  ) {
    channel.on("data", (d: Buffer) => {
      this.stdout = Buffer.concat([this.stdout, d]);
      this.settle();
    });
    channel.stderr.on("data", (d: Buffer) => {
      this.stderr = Buffer.concat([this.stderr, d]);
      this.settle();
    });
    channel.on("close", () => this.fail(new Error("the shell channel closed")));
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  start(command: PendingCommand): void {
    this.current = command;
    this.timer = setTimeout(
      () => this.fail(new Error(`no answer within ${COMMAND_TIMEOUT_MS / 1000} s`)),
      COMMAND_TIMEOUT_MS,
    );
    this.channel.write(command.script);
  }

  private settle(): void {
    if (!this.current) return;
    const framed = cutFramed(this.stdout, this.stderr, this.marker);
    if (!framed) return;
    this.stdout = framed.stdoutRest;
    this.stderr = framed.stderrRest;
    const done = this.current;
    this.current = undefined;
    clearTimeout(this.timer);
    done.resolve(framed.result);
    this.onIdle();
  }

  fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const pending = this.current;
    this.current = undefined;
    this.channel.destroy();
    pending?.reject(this.describe(error));
    this.onClosed(this, error);
  }
}

/**
 * Wraps a command line so that the shell prints a begin marker before it and
 * its exit code after it, on both streams, framed by `marker`. `stdin`, when
 * given, is fed through a quoted here-document, so nothing in it is expanded.
 *
 * The begin marker is what makes a talkative login shell harmless: whatever a
 * `.bashrc` (bash sources it for commands run over ssh) prints before our `sh`
 * starts reading lands before the first begin marker and is dropped, instead
 * of being taken for the first command's output.
 */
export function frameCommand(commandLine: string, marker: string, stdin?: string): string {
  let input = "</dev/null";
  let body = "";
  if (stdin !== undefined) {
    const eof = `EOF_${marker}`;
    if (stdin.includes(eof)) throw new Error("stdin contains the here-document delimiter");
    input = `<<'${eof}'`;
    body = stdin === "" ? `${eof}\n` : `${stdin}${stdin.endsWith("\n") ? "" : "\n"}${eof}\n`;
  }
  return (
    `printf '%s\\n' ${beginOf(marker)}; printf '%s\\n' ${beginOf(marker)} >&2\n` +
    `${commandLine} ${input}\n${body}` +
    `printf '\\n%s %d\\n' ${marker} $?; printf '\\n%s\\n' ${marker} >&2\n`
  );
}

/** The token printed on its own line before each command's output. */
function beginOf(marker: string): string {
  return `${marker}BEGIN`;
}

/** One framed command cut out of a shell's two streams, and what follows it. */
export interface FramedCommand {
  readonly result: CommandResult;
  readonly stdoutRest: Buffer;
  readonly stderrRest: Buffer;
}

/**
 * Cuts the first complete command framed by {@link frameCommand} out of what a
 * shell printed so far, or undefined while either stream is still short of its
 * end marker. Anything before a stream's begin marker (a login shell's
 * greeting) is dropped. Pure.
 */
export function cutFramed(
  stdout: Buffer,
  stderr: Buffer,
  marker: string,
): FramedCommand | undefined {
  const begin = `${beginOf(marker)}\n`;
  const outBegin = stdout.indexOf(begin);
  const errBegin = stderr.indexOf(begin);
  if (outBegin < 0 || errBegin < 0) return undefined;
  const outStart = outBegin + begin.length;
  const errStart = errBegin + begin.length;
  const out = stdout.indexOf(`\n${marker} `, outStart);
  const err = stderr.indexOf(`\n${marker}\n`, errStart);
  if (out < 0 || err < 0) return undefined;
  const end = stdout.indexOf("\n", out + marker.length + 2);
  if (end < 0) return undefined;
  return {
    result: {
      stdout: stdout.subarray(outStart, out).toString("utf8"),
      stderr: stderr.subarray(errStart, err).toString("utf8"),
      exitCode: Number(stdout.subarray(out + marker.length + 2, end).toString()),
    },
    stdoutRest: stdout.subarray(end + 1),
    stderrRest: stderr.subarray(err + marker.length + 2),
  };
}

/**
 * One SSH connection to one host, shared by every resource that targets it in
 * this process, with up to {@link MAX_SHELLS_PER_CONNECTION} shells.
 */
export class HostSession {
  private readonly shells: Shell[] = [];
  private readonly queue: PendingCommand[] = [];
  private opening = 0;
  private lostError?: Error;
  /** True once sudo accepted the connection's sudo password in one shell. */
  private sudoProven = false;
  private readonly marker = `__LINUXNET_${randomBytes(8).toString("hex")}__`;

  private constructor(
    readonly connection: Connection,
    private readonly client: Client,
    /** The fingerprint of the key the host presented (`SHA256:...`), pinned or not. */
    readonly hostKeyFingerprint: string,
    /** The jump hosts' connections, innermost (dialled first) first. */
    private readonly jumps: readonly Client[] = [],
  ) {
    client.on("close", () => this.lose(new Error("the connection closed")));
    client.on("error", (e) => this.lose(e));
  }

  /** True once the connection has dropped; the pool then makes a new one. */
  get lost(): boolean {
    return this.lostError !== undefined;
  }

  /** Opens the connection (through its jump hosts, if any), retrying while the host is not up yet. */
  static async open(connection: Connection): Promise<HostSession> {
    const refused = refusedSudoPasswords.get(connectionKey(connection));
    if (refused) throw refused;
    const jumps: Client[] = [];
    try {
      const { client, fingerprint } = await dialThrough(connection, jumps);
      return new HostSession(connection, client, fingerprint, jumps);
    } catch (e) {
      for (const jump of jumps.reverse()) jump.end();
      throw e;
    }
  }

  /** Runs one command line (already quoted) and returns its output and exit code. */
  run(commandLine: string, stdin?: string): Promise<CommandResult> {
    if (this.lostError) {
      return Promise.reject(this.transportError(this.lostError));
    }
    transportStats.commands++;
    return new Promise((resolve, reject) => {
      this.queue.push({ script: frameCommand(commandLine, this.marker, stdin), resolve, reject });
      this.dispatch();
    });
  }

  /** Closes the connection; commands still queued fail. */
  close(): void {
    this.lose(new Error("closed by the provider"));
  }

  private dispatch(): void {
    // A lost connection opens nothing more: whatever still waits fails at once.
    if (this.lostError) {
      this.failQueue(this.transportError(this.lostError));
      return;
    }
    while (this.queue.length > 0) {
      const idle = this.shells.find((s) => !s.busy && !s.closed);
      if (idle) {
        idle.start(this.queue.shift()!);
        continue;
      }
      // With a sudo password, one shell proves it before any other asks: a wrong one is typed once.
      const proving =
        this.connection.sudoPassword !== undefined &&
        !this.sudoProven &&
        this.shells.length + this.opening > 0;
      if (!proving && this.shells.length + this.opening < MAX_SHELLS_PER_CONNECTION) {
        this.openShell();
      }
      return;
    }
  }

  private openShell(): void {
    this.opening++;
    // `exec` rather than `shell`: no pty, so output is not mangled and stderr stays apart.
    const command = !this.connection.sudo
      ? "/bin/sh"
      : this.connection.sudoPassword === undefined
        ? "sudo -n /bin/sh"
        : sudoWithPasswordCommand(this.marker);
    try {
      this.client.exec(command, (err, channel) => this.shellOpened(err, channel));
    } catch (e) {
      // ssh2 throws "Not connected" when the connection dropped a moment ago.
      this.opening--;
      this.lose(e as Error);
    }
  }

  private shellOpened(err: Error | undefined, channel: ClientChannel): void {
    if (err) {
      this.opening--;
      // Most likely "Channel open failure": the server's session limit. Run on the shells we have.
      if (this.shells.length === 0) this.failQueue(this.transportError(err));
      return;
    }
    transportStats.channels++;
    if (this.connection.sudoPassword !== undefined) {
      answerSudo(channel, this.marker, this.connection.sudoPassword).then(
        () => {
          this.opening--;
          this.sudoProven = true;
          this.addShell(channel, false);
        },
        (reason: Error & { passwordRefused?: boolean }) => {
          this.opening--;
          channel.destroy();
          const error = new TransportError("sudo", this.connection.host, reason.message);
          // A wrong password is remembered, so that it is never typed again in this process.
          if (reason.passwordRefused)
            refusedSudoPasswords.set(connectionKey(this.connection), error);
          this.lose(error);
        },
      );
      return;
    }
    this.opening--;
    this.addShell(channel, this.connection.sudo);
  }

  private addShell(channel: ClientChannel, verifySudo: boolean): void {
    const shell = new Shell(
      channel,
      this.marker,
      () => this.dispatch(),
      (closed, error) => {
        this.shells.splice(this.shells.indexOf(closed), 1);
        if (this.shells.length === 0 && this.opening === 0 && this.queue.length > 0) {
          this.failQueue(this.transportError(error));
        }
        this.dispatch();
      },
      (e) => this.transportError(e),
    );
    this.shells.push(shell);
    if (verifySudo) {
      this.verifySudo(shell);
    } else {
      this.dispatch();
    }
  }

  /** `sudo -n` that needs a password ends the shell at once; say so instead of a framing error. */
  private verifySudo(shell: Shell): void {
    shell.start({
      script: frameCommand("true", this.marker),
      resolve: () => this.dispatch(),
      reject: () =>
        this.failQueue(
          new TransportError(
            "sudo",
            this.connection.host,
            `"sudo -n" refused for user ${this.connection.user}: it needs a password or is not allowed; give connection.sudoPassword, allow NOPASSWD for this user, or log in as root`,
          ),
        ),
    });
  }

  private failQueue(error: Error): void {
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }

  private lose(error: Error): void {
    if (this.lostError) return;
    this.lostError = error;
    this.failQueue(this.transportError(error));
    for (const shell of [...this.shells]) shell.fail(error);
    this.client.end();
    for (const jump of [...this.jumps].reverse()) jump.end();
  }

  private transportError(error: Error): TransportError {
    if (error instanceof TransportError) return error;
    return new TransportError(
      "protocol",
      this.connection.host,
      `the SSH connection broke (${error.message}); what ran before is in place, run again to converge`,
      { cause: error },
    );
  }
}

/**
 * Connections (by {@link connectionKey}) whose sudo password sudo refused in
 * this process. Each further try would count as one more failed login (and
 * `pam_faillock` locks an account after three), so none is made: every later
 * session for the same connection fails at once with the same error.
 */
const refusedSudoPasswords = new Map<string, TransportError>();

/** How long sudo may take to ask for its password or to start the shell. */
const SUDO_TIMEOUT_MS = 30_000;

/**
 * The command of a shell under `sudo -S`: sudo prompts on stderr with a prompt
 * of ours (no `%` escapes, so sudo prints it as it is) and reads the answer
 * from the channel; once allowed, the shell prints a ready line and becomes
 * the `sh` that runs our commands. Pure.
 */
export function sudoWithPasswordCommand(marker: string): string {
  return `sudo -S -p ${sudoPromptOf(marker)} /bin/sh -c 'printf "%s\\n" ${sudoReadyOf(marker)}; exec /bin/sh'`;
}

function sudoPromptOf(marker: string): string {
  return `${marker}SUDO:`;
}

function sudoReadyOf(marker: string): string {
  return `${marker}READY`;
}

/**
 * Waits on a channel running {@link sudoWithPasswordCommand}: writes the
 * password when sudo prompts for it (and only then: sudo that needs none
 * never sees it), resolves once the shell says it is ready, and rejects with
 * a message (never holding the password) when sudo asks again, exits or takes
 * too long.
 */
function answerSudo(channel: ClientChannel, marker: string, password: string): Promise<void> {
  const prompt = sudoPromptOf(marker);
  const ready = `${sudoReadyOf(marker)}\n`;
  return new Promise((resolve, rejectWith) => {
    const reject = (message: string, passwordRefused = false) =>
      rejectWith(Object.assign(new Error(message), { passwordRefused }));
    let out = "";
    let err = "";
    let prompts = 0;
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      channel.removeListener("data", onOut);
      channel.stderr.removeListener("data", onErr);
      channel.removeListener("close", onClose);
      outcome();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            `sudo neither asked for a password nor started within ${SUDO_TIMEOUT_MS / 1000} s`,
          ),
        ),
      SUDO_TIMEOUT_MS,
    );
    const onOut = (d: Buffer) => {
      out += d.toString("utf8");
      if (out.includes(ready)) finish(() => resolve());
    };
    const onErr = (d: Buffer) => {
      err += d.toString("utf8");
      const seen = err.split(prompt).length - 1;
      if (seen > prompts) {
        prompts = seen;
        if (prompts === 1) {
          channel.write(`${password}\n`);
        } else {
          finish(() => reject("sudo refused connection.sudoPassword (it asked again)", true));
        }
      }
    };
    const onClose = () =>
      finish(() =>
        reject(
          `sudo ended before starting the shell: ${err.split(prompt).join("").trim() || "no message"}`,
        ),
      );
    channel.on("data", onOut);
    channel.stderr.on("data", onErr);
    channel.on("close", onClose);
  });
}

/**
 * Dials `connection` through its chain of jump hosts, the innermost first
 * (`{ host: b, proxy: { host: a } }` is `ssh -J a,b`), adding each jump host's
 * connection to `jumps` as it comes up, so the caller can close them.
 */
async function dialThrough(connection: Connection, jumps: Client[]): Promise<Dialled> {
  if (!connection.proxy) return dial(connection);
  const jump = await dialThrough(connection.proxy, jumps);
  jumps.push(jump.client);
  return dial(connection, () => forward(jump.client, connection.proxy!, connection));
}

/**
 * Dials one host, retrying refused or unreachable attempts with backoff until
 * its dial deadline. Through a jump host, `openTunnel` opens a new forwarded
 * channel for each attempt, so a host behind a bastion may still be booting.
 */
async function dial(connection: Connection, openTunnel?: () => Promise<Duplex>): Promise<Dialled> {
  const deadline = Date.now() + connection.dialTimeoutMs;
  let pause = BACKOFF_MIN_MS;
  let first = true;
  for (;;) {
    try {
      // The first attempt may take the handshake's usual 5 s even past a short deadline; later
      // ones only what is left, so a host that never answers fails close to the deadline.
      const left = Math.max(first ? 5_000 : 1_000, Math.min(deadline - Date.now(), 30_000));
      first = false;
      return await dialOnce(connection, left, openTunnel ? await openTunnel() : undefined);
    } catch (e) {
      const error = e as TransportError;
      // Authentication and host-key failures are answers, not a host still booting; retrying them
      // in a loop would only earn a penalty from sshd.
      const retryable = error.level === "connect";
      if (!retryable || Date.now() + pause > deadline) {
        if (retryable) {
          throw new TransportError(
            "timeout",
            connection.host,
            `not reachable within ${connection.dialTimeoutMs} ms: ${error.message}`,
            { cause: e },
          );
        }
        throw e;
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, BACKOFF_MAX_MS);
    }
  }
}

/** A connection that is up, and the fingerprint of the key its host presented. */
interface Dialled {
  readonly client: Client;
  readonly fingerprint: string;
}

function dialOnce(connection: Connection, readyTimeout: number, sock?: Duplex): Promise<Dialled> {
  const where = `${connection.host}:${connection.port}`;
  return new Promise((resolve, reject) => {
    // ssh2 is loaded on the first dial, not with the runtime: a no-change `up` (check and
    // diff only) never dials, and need not pay for loading it in the engine's provider process.
    const client = new (require("ssh2") as typeof import("ssh2")).Client();
    let hostKeyMismatch: string | undefined;
    let fingerprint = "";
    const config: ConnectConfig = {
      host: connection.host,
      port: connection.port,
      username: connection.user,
      readyTimeout,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const seen = fingerprintOf(key);
        fingerprint = seen;
        if (!connection.hostKey) return true;
        const pinned = pinnedFingerprint(connection.hostKey);
        if (seen === pinned) return true;
        hostKeyMismatch = `host key mismatch: the server offered ${seen}, the pinned key is ${pinned}; refusing to connect`;
        return false;
      },
    };
    if (sock) config.sock = sock;
    if (connection.privateKey) config.privateKey = connection.privateKey;
    if (connection.privateKeyPassphrase) config.passphrase = connection.privateKeyPassphrase;
    if (connection.password) config.password = connection.password;
    const agent =
      connection.agentSocket ??
      (!connection.privateKey && !connection.password ? process.env.SSH_AUTH_SOCK : undefined);
    if (agent) config.agent = agent;

    // ssh2 can emit more than one error for one failed dial (a reset before the handshake is
    // "read ECONNRESET", then "Connection lost before handshake"): only the first counts.
    let settled = false;
    client.once("ready", () => {
      settled = true;
      transportStats.connections++;
      resolve({ client, fingerprint });
    });
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.destroy();
      if (hostKeyMismatch) {
        reject(new TransportError("host-key", where, hostKeyMismatch));
      } else if (err.level === "client-authentication") {
        reject(
          new TransportError(
            "authentication",
            where,
            `authentication as ${connection.user} failed (methods tried: ${describeCredentials(connection)})`,
          ),
        );
      } else if (err.level === "client-timeout") {
        reject(new TransportError("connect", where, "no SSH greeting in time", { cause: err }));
      } else if (
        err.level === "client-socket" ||
        err.code !== undefined ||
        // A TCP connection that closed before any SSH greeting: no sshd answers there (yet).
        err.message === "Connection lost before handshake"
      ) {
        reject(new TransportError("connect", where, err.message, { cause: err }));
      } else {
        reject(new TransportError("protocol", where, err.message, { cause: err }));
      }
    });
    try {
      client.connect(config);
    } catch (e) {
      // ssh2 throws synchronously for a key it cannot parse (or a wrong passphrase).
      reject(
        new TransportError("authentication", where, `bad private key: ${(e as Error).message}`),
      );
    }
  });
}

function forward(jump: Client, via: Connection, target: Connection): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const opened = (err: Error | undefined, stream: Duplex) => {
      if (err) {
        reject(
          new TransportError(
            "connect",
            `${target.host}:${target.port}`,
            `via jump host: ${err.message}`,
          ),
        );
      } else {
        transportStats.channels++;
        resolve(stream);
      }
    };
    try {
      jump.forwardOut("127.0.0.1", 0, target.host, target.port, opened);
    } catch (e) {
      // ssh2 throws "Not connected" once the jump host's connection is gone: no retry can use it.
      reject(
        new TransportError(
          "protocol",
          via.host,
          `the connection to this jump host closed (${(e as Error).message}); run again to converge`,
        ),
      );
    }
  });
}

function describeCredentials(c: Connection): string {
  const methods: string[] = [];
  if (c.privateKey) methods.push("publickey");
  if (c.password) methods.push("password");
  if (c.agentSocket || (!c.privateKey && !c.password && process.env.SSH_AUTH_SOCK))
    methods.push("agent");
  return methods.join(", ") || "none given";
}
