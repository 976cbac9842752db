/**
 * Configurations and start-up of a tunnel between the two namespaces of a
 * {@link NetnsPair}, with vtunts or the real vtund on either end.
 */
import { CLIENT_IP, eventually, SERVER_IP, TUN_CLIENT, TUN_SERVER, VTUNTS, type Daemon, type NetnsPair } from "./harness.ts";

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
}

const SESSION = "e2e";
const PASSWD = "e2e-Secret_pw";

const up = (me: string, peer: string) => [`ip addr add ${me}/32 peer ${peer} dev %%`, "ip link set %% up"];
const tomlList = (cmds: string[]) => `[${cmds.map((c) => JSON.stringify(c)).join(", ")}]`;

function vtuntsServerToml(s: TunnelSpec): string {
  return `[options]
port = ${s.port ?? 5000}
timeout = 10

[hosts.${s.session ?? SESSION}]
passwd = ${JSON.stringify(s.passwd ?? PASSWD)}
type = "tun"
proto = "${s.proto}"
keepalive = "${s.keepalive ?? "no"}"
up = ${tomlList(up(TUN_SERVER, TUN_CLIENT))}
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
up = ${tomlList(up(TUN_CLIENT, TUN_SERVER))}
down = ${tomlList(s.clientDown ?? [])}
`;
}

const vtundUp = (me: string, peer: string) => `  up {
    ip "addr add ${me}/32 peer ${peer} dev %d";
    ip "link set %d up";
  };`;
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
  type tun;
  proto ${s.proto};
  encrypt no;
  compress no;
  keepalive ${s.keepalive ?? "no"};
${vtundUp(TUN_SERVER, TUN_CLIENT)}
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
  persist no;
  keepalive ${s.clientKeepalive ?? "no"};
${vtundUp(TUN_CLIENT, TUN_SERVER)}
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
    const d = pair.start(pair.server, "vtunts server", [VTUNTS, "-s", "-n", "-f", conf, "--log-level", "debug"]);
    await d.waitFor(/waiting for connections/);
    return d;
  }
  const conf = pair.file("server.conf", vtundServerConf(spec));
  const d = pair.start(pair.server, "vtund server", ["vtund", "-s", "-n", "-f", conf]);
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
    return pair.start(pair.client, "vtunts client", [VTUNTS, "-n", "-f", conf, "--log-level", "debug", ...extraArgs, session, SERVER_IP]);
  }
  const conf = pair.file("client.conf", vtundClientConf(spec));
  return pair.start(pair.client, "vtund client", ["vtund", "-n", "-f", conf, ...extraArgs, session, SERVER_IP]);
}

/** Waits until a ping crosses the tunnel from the client side. */
export async function waitTunnelUp(pair: NetnsPair, timeoutMs = 15_000): Promise<boolean> {
  return await eventually(async () => (await pair.client.ping(TUN_SERVER, 1, 56)).received === 1, timeoutMs, 200);
}

export { CLIENT_IP, PASSWD, SERVER_IP, SESSION, TUN_CLIENT, TUN_SERVER };
