/**
 * The floor proxy on Deno (bench/fixtures/proxy_floor/floor.ts): every request sent to
 * BENCH_UPSTREAM, with the deadlines on one timer as tracegate's Deno entry keeps them.
 */
import { DeadlineQueue } from "../../proxy/deadline.ts";
import { forwardFloor } from "../fixtures/proxy_floor/floor.ts";
import { announce, exitOnSignal } from "./announce.ts";

const upstream = (Deno.env.get("BENCH_UPSTREAM") ?? "").replace(/\/$/, "");
const deadlines = new DeadlineQueue(30_000);
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (request, info) =>
    forwardFloor(request, { upstream, deadlines, clientAddress: info.remoteAddr.hostname }),
);
exitOnSignal(() => server.shutdown());
announce(`http://127.0.0.1:${server.addr.port}`);
