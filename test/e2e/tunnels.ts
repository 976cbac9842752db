/**
 * Configurations and start-up of a tunnel between the two namespaces of a
 * {@link NetnsPair}, with vtunts or the real vtund on either end.
 */
import { CLIENT_IP, eventually, SERVER_IP, TUN_CLIENT, TUN_SERVER, vtuntsFor, type DaemonRuntime, type Daemon, type NetnsPair } from "./harness.ts";

/** Which daemon runs an end. */
export type Impl = "vtunts" | "vtund";

/** What the tunnel looks like. */
export interface TunnelSpec {
  proto: "tcp" | "udp";
  session?: string;
  /** Server's password (and the client's, unless clientPasswd is set). */
  passwd?: string;
  clientPasswd?: string;
  /** Session name the client asks for (default: `session`). */
  clientSession?: string;
  /** Server's keepalive: "yes", "no" or "interval:count". */
  keepalive?: string;
  /** Client-side keepalive timing (vtund's client uses its own interval:count). */
  clientKeepalive?: string;
  /** Extra down commands per side. */
  serverDown?: string[];
  clientDown?: string[];
  /** TCP port (default 5000). */
  port?: number;
  /** Client's persist setting (default "no"). */
  clientPersist?: "yes" | "keep" | "no";
  /** Runtime of a vtunts server / client (default: VTUNTS_RUNTIME, see harness.ts). */
  serverRuntime?: DaemonRuntime;
  clientRuntime?: DaemonRuntime;
  /** Session type (default tun). */
  type?: "tun" | "ether" | "pipe" | "tty";
  /** vtund cipher name (e.g. "aes128cbc"), default none. */
  encrypt?: string;
  /** "zlib:N" / "lzo:N", default none. */
  compress?: string;
  /** "A:B" kbit/s, default none. */
  speed?: string;
  /** Server's handshake timeout, seconds (default 10). */
  serverTimeout?: number;
  /** Server's multi setting. */
  multi?: "yes" | "no" | "killold";
  /** pipe/tty: shell command run on each side with the device as stdin/stdout (replaces the ip commands). */
  serverProgram?: string;
  clientProgram?: string;
  /** tcp_congestion of a vtunts server / client (default: unset, the system's). */
  serverTcpCongestion?: string;
  clientTcpCongestion?: string;
  /** Extra environment of the vtunts ends (e.g. VTUNTS_DISABLE). */
  vtuntsEnv?: Record<string, string>;
}

/** An OpenSSL config that enables the legacy provider: the real vtund needs it for Blowfish (see README). */
export const OPENSSL_LEGACY_CONF = `openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
`;

const SESSION = "e2e";
const PASSWD = "e2e-Secret_pw";

/** Up commands as shell command lines, by session type. */
function upCommands(s: TunnelSpec, me: string, peer: string, program: string | undefined): string[] {
  const type = s.type ?? "tun";
  if (type === "pipe" || type === "tty") return program ? [program] : [];
  if (type === "ether") return [`ip addr add ${me}/24 dev %%`, "ip link set %% up"];
  return [`ip addr add ${me}/32 peer ${peer} dev %%`, "ip link set %% up"];
}

/** Session keys the server's config decides, as TOML lines. */
function tomlSessionExtras(s: TunnelSpec): string {
  let t = "";
  if (s.encrypt) t += `encrypt = "${s.encrypt}"\n`;
  if (s.compress) t += `compress = "${s.compress}"\n`;
  if (s.speed) t += `speed = "${s.speed}"\n`;
  if (s.multi) t += `multi = "${s.multi}"\n`;
  if (s.serverTcpCongestion) t += `tcp_congestion = "${s.serverTcpCongestion}"\n`;
  return t;
}

/** The same as vtund.conf lines. */
function vtundSessionExtras(s: TunnelSpec): string {
  let t = `  encrypt ${s.encrypt ?? "no"};\n  compress ${s.compress ?? "no"};\n`;
  if (s.speed) t += `  speed ${s.speed};\n`;
  if (s.multi) t += `  multi ${s.multi};\n`;
  return t;
}
const tomlList = (cmds: string[]) => `[${cmds.map((c) => JSON.stringify(c)).join(", ")}]`;

function vtuntsServerToml(s: TunnelSpec): string {
  return `[options]
port = ${s.port ?? 5000}
timeout = ${s.serverTimeout ?? 10}

[hosts.${s.session ?? SESSION}]
passwd = ${JSON.stringify(s.passwd ?? PASSWD)}
type = "${s.type ?? "tun"}"
proto = "${s.proto}"
keepalive = "${s.keepalive ?? "no"}"
${tomlSessionExtras(s)}up = ${tomlList(upCommands(s, TUN_SERVER, TUN_CLIENT, s.serverProgram))}
down = ${tomlList(s.serverDown ?? [])}
`;
}

function vtuntsClientToml(s: TunnelSpec): string {
  return `[options]
port = ${s.port ?? 5000}
timeout = 10

[hosts.${s.clientSession ?? s.session ?? SESSION}]
passwd = ${JSON.stringify(s.clientPasswd ?? s.passwd ?? PASSWD)}
keepalive = "${s.clientKeepalive ?? "no"}"
persist = "${s.clientPersist ?? "no"}"
timeout = 5
${s.clientTcpCongestion ? `tcp_congestion = "${s.clientTcpCongestion}"\n` : ""}up = ${tomlList(upCommands(s, TUN_CLIENT, TUN_SERVER, s.clientProgram))}
down = ${tomlList(s.clientDown ?? [])}
`;
}

/** vtund's up block: `ip "…";` for devices, `program /bin/sh "-c '…'";` for a pipe/tty program. */
function vtundUp(s: TunnelSpec, me: string, peer: string, program: string | undefined): string {
  const type = s.type ?? "tun";
  if (type === "pipe" || type === "tty") {
    return program ? `  up {\n    program /bin/sh "-c '${program}'";\n  };` : "";
  }
  const cmds = upCommands(s, me, peer, undefined).map((c) => `    ip "${c.replace(/^ip /, "").replaceAll("%%", "%d")}";`);
  return `  up {\n${cmds.join("\n")}\n  };`;
}
const vtundDown = (cmds: string[] | undefined) =>
  cmds?.length ? `  down {\n${cmds.map((c) => `    program /bin/sh "-c '${c}'" wait;`).join("\n")}\n  };` : "";

function vtundServerConf(s: TunnelSpec): string {
  return `options {
  port ${s.port ?? 5000};
  timeout 10;
  ip /usr/sbin/ip;
}
${s.session ?? SESSION} {
  passwd ${s.passwd ?? PASSWD};
  type ${s.type ?? "tun"};
  proto ${s.proto};
${vtundSessionExtras(s)}  keepalive ${s.keepalive ?? "no"};
${vtundUp(s, TUN_SERVER, TUN_CLIENT, s.serverProgram)}
${vtundDown(s.serverDown)}
}
`;
}

function vtundClientConf(s: TunnelSpec): string {
  return `options {
  port ${s.port ?? 5000};
  timeout 10;
  ip /usr/sbin/ip;
}
${s.clientSession ?? s.session ?? SESSION} {
  passwd ${s.clientPasswd ?? s.passwd ?? PASSWD};
  persist ${s.clientPersist ?? "no"};
  keepalive ${s.clientKeepalive ?? "no"};
${vtundUp(s, TUN_CLIENT, TUN_SERVER, s.clientProgram)}
${vtundDown(s.clientDown)}
}
`;
}

/** Writes the vtunts server's configuration file (startServer does; for SIGHUP tests alone). */
export function writeServerToml(pair: NetnsPair, spec: TunnelSpec): string {
  return pair.file("server.toml", vtuntsServerToml(spec));
}

/** Starts the server end and waits until it listens. */
export async function startServer(pair: NetnsPair, impl: Impl, spec: TunnelSpec): Promise<Daemon> {
  if (impl === "vtunts") {
    const conf = writeServerToml(pair, spec);
    const d = pair.start(pair.server, "vtunts server", [vtuntsFor(spec.serverRuntime), "-s", "-n", "-f", conf, "--log-level", "debug"], { ...process.env, ...spec.vtuntsEnv });
    await d.waitFor(/waiting for connections/);
    return d;
  }
  const conf = pair.file("server.conf", vtundServerConf(spec));
  const d = pair.start(pair.server, "vtund server", ["vtund", "-s", "-n", "-f", conf], vtundEnv(pair));
  await d.waitFor(/VTUN server ver/);
  // vtund prints its banner before it listens.
  await eventually(async () => (await pair.server.exec(["ss", "-Htln", `sport = :${spec.port ?? 5000}`])).stdout.includes("LISTEN"), 5000);
  return d;
}

/** Starts the client end (it connects at once). */
export function startClient(pair: NetnsPair, impl: Impl, spec: TunnelSpec, extraArgs: string[] = []): Daemon {
  const session = spec.clientSession ?? spec.session ?? SESSION;
  if (impl === "vtunts") {
    const conf = pair.file("client.toml", vtuntsClientToml(spec));
    return pair.start(pair.client, "vtunts client", [vtuntsFor(spec.clientRuntime), "-n", "-f", conf, "--log-level", "debug", ...extraArgs, session, SERVER_IP], { ...process.env, ...spec.vtuntsEnv });
  }
  const conf = pair.file("client.conf", vtundClientConf(spec));
  return pair.start(pair.client, "vtund client", ["vtund", "-n", "-f", conf, ...extraArgs, session, SERVER_IP], vtundEnv(pair));
}

/** The real vtund's environment: OpenSSL's legacy provider on, or its Blowfish ciphers crash (README). */
export function vtundEnv(pair: NetnsPair): NodeJS.ProcessEnv {
  return { ...process.env, OPENSSL_CONF: pair.file("openssl-legacy.cnf", OPENSSL_LEGACY_CONF) };
}

/** Waits until a ping crosses the tunnel from the client side. */
export async function waitTunnelUp(pair: NetnsPair, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // The real vtund ends its link when a packet reaches its device before its
  // own `up` commands have set it up (EIO, see README "vtund defects"), so the
  // first ping waits for the server's device to be up with its address.
  const address = new RegExp(`(^|\\s)${TUN_SERVER.replaceAll(".", "\\.")}[ /]`, "m");
  const serverUp = await eventually(async () => address.test((await pair.server.exec(["ip", "-br", "addr", "show", "up"])).stdout), timeoutMs, 100);
  if (!serverUp) return false;
  return await eventually(async () => (await pair.client.ping(TUN_SERVER, 1, 56)).received === 1, Math.max(1000, deadline - Date.now()), 200);
}

export { CLIENT_IP, PASSWD, SERVER_IP, SESSION, TUN_CLIENT, TUN_SERVER };
