/**
 * The smallest TUN ⇄ UDP forwarder that can be written in Bun: one poll()
 * loop, libc through bun:ffi, vtun's 2-byte frame header, no handshake, no
 * offloads, no layers. It is not a tunnel to use; scripts/trace-idle runs a
 * pair of them to show what an idle round trip costs in the runtime itself,
 * beside vtund and vtunts.
 *
 *   bun scripts/lib/floor-forwarder.ts TUN_NAME LOCAL_IP LOCAL_PORT PEER_IP PEER_PORT
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const { i32, u32, u64, ptr: pointer } = FFIType;
const c = dlopen("libc.so.6", {
  open: { args: [pointer, i32, u32], returns: i32 },
  ioctl: { args: [i32, u64, pointer], returns: i32 },
  read: { args: [i32, pointer, u64], returns: i32 },
  write: { args: [i32, pointer, u64], returns: i32 },
  send: { args: [i32, pointer, u64, i32], returns: i32 },
  recv: { args: [i32, pointer, u64, i32], returns: i32 },
  poll: { args: [pointer, u64, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, pointer, u32], returns: i32 },
  connect: { args: [i32, pointer, u32], returns: i32 },
}).symbols;

const [name, localIp, localPort, peerIp, peerPort] = process.argv.slice(2);
if (!peerPort) {
  console.error("usage: bun scripts/lib/floor-forwarder.ts TUN_NAME LOCAL_IP LOCAL_PORT PEER_IP PEER_PORT");
  process.exit(2);
}
const O_RDWR = 2, O_NONBLOCK = 0o4000, IFF_TUN = 0x0001, IFF_NO_PI = 0x1000, TUNSETIFF = 0x400454ca;
const AF_INET = 2, SOCK_DGRAM = 2, POLLIN = 1;

const tun = c.open(ptr(new TextEncoder().encode("/dev/net/tun\0")), O_RDWR | O_NONBLOCK, 0);
const ifreq = new Uint8Array(40);
ifreq.set(new TextEncoder().encode(name!));
new DataView(ifreq.buffer).setUint16(16, IFF_TUN | IFF_NO_PI, true);
if (tun < 0 || c.ioctl(tun, TUNSETIFF, ptr(ifreq)) < 0) throw new Error(`floor-forwarder: cannot open TUN ${name}`);

function sockaddr(ip: string, port: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port);
  ip.split(".").forEach((x, i) => (b[4 + i] = Number(x)));
  return b;
}
const sock = c.socket(AF_INET, SOCK_DGRAM | O_NONBLOCK, 0);
if (sock < 0 || c.bind(sock, ptr(sockaddr(localIp!, Number(localPort))), 16) < 0 || c.connect(sock, ptr(sockaddr(peerIp!, Number(peerPort))), 16) < 0) {
  throw new Error("floor-forwarder: cannot bind or connect the UDP socket");
}

const fds = new Uint8Array(16);
const fd32 = new Int32Array(fds.buffer);
const ev16 = new Int16Array(fds.buffer);
fd32[0] = tun;
ev16[2] = POLLIN;
fd32[2] = sock;
ev16[6] = POLLIN;
const buf = new Uint8Array(65536);
const at = ptr(buf);
const fdsAt = ptr(fds);
console.log("floor-forwarder: ready");
for (;;) {
  c.poll(fdsAt, 2, -1);
  if (ev16[7]) {
    for (;;) {
      const n = c.recv(sock, at, 2048, 0);
      if (n <= 0) break;
      if (n > 2) c.write(tun, at + 2, n - 2);
    }
  }
  if (ev16[3]) {
    for (;;) {
      const n = c.read(tun, at + 2, 2046);
      if (n <= 0) break;
      buf[0] = n >> 8;
      buf[1] = n & 255;
      c.send(sock, at, n + 2, 0);
    }
  }
}
