/**
 * Draining on a real host (sshd, Docker Engine, registry, HAProxy on loopback): a colour with live
 * requests is never stopped. Long requests in flight survive back-to-back releases, and a
 * streaming response is closed only after the drain budget, cleanly, by the app's own SIGTERM
 * handling (testkit/app: /slow?ms=N, /stream).
 */
import * as assert from "assert";
import autocannon from "autocannon";
import * as http from "http";
import {
    bluegreen,
    fetchStatus,
    history,
    installTool,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    settingsFor,
    sleep,
    target,
} from "../../testkit/rig";
import { HostReleaseSettings, HostTarget, releaseArgs } from "../../components/deploy/host-commands";

const PREFIX = "bgdrain";

describe("draining on a real host (integration)", function () {
    this.timeout(300_000);
    let rig: Rig;
    let host: HostTarget;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        host = rig.hosts[0];
        await removeInstances(PREFIX);
        const r = await installTool(rig, host);
        assert.strictEqual(r.code, 0, r.stderr);
    });
    after(async () => {
        if (rig) await removeInstances(PREFIX);
    });

    async function fresh(name: string, basePort: number): Promise<HostReleaseSettings> {
        const instance = `${PREFIX}-${name}`;
        await resetInstance(rig, host, instance);
        return settingsFor(rig, instance, basePort);
    }

    async function releaseOk(s: HostReleaseSettings, version: string, extra: string[] = []) {
        const r = await bluegreen(rig, host, [...releaseArgs(target(rig, version), s), ...extra]);
        assert.strictEqual(r.code, 0, `release ${version} failed:\n${r.stderr}`);
        return r;
    }

    it("5-second requests on 10 connections and fast ones on 20 survive 4 back-to-back releases", async () => {
        const s = await fresh("long", 18710);
        await releaseOk(s, "1.0.0");
        const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
        const outcomes: string[] = [];
        let running = true;
        // Staggered half a second apart: whenever a switch happens, some request on the colour it
        // leaves has most of its 5 seconds still to run, so the next release must wait for it.
        const clients = Array.from({ length: 10 }, async (_, i) => {
            await sleep(i * 500);
            while (running) outcomes.push(await fetchStatus(agent, s.publicPort, "/slow?ms=5000"));
        });
        let fast: autocannon.Instance | undefined;
        const fastDone = new Promise<autocannon.Result>((resolve, reject) => {
            fast = autocannon(
                { url: `http://127.0.0.1:${s.publicPort}/`, connections: 20, duration: 300 },
                (err, result) => (err ? reject(err) : resolve(result)),
            );
        });
        await sleep(5000);
        for (const v of ["2.0.0", "1.0.0", "2.0.0", "1.0.0"]) await releaseOk(s, v, ["--fresh"]);
        running = false;
        await Promise.all(clients);
        fast!.stop();
        const result = await fastDone;
        agent.destroy();

        const failed = outcomes.filter((o) => o !== "200");
        assert.ok(outcomes.length >= 20, `only ${outcomes.length} slow requests`);
        assert.deepStrictEqual(failed, [], `slow requests that failed, of ${outcomes.length}`);
        assert.strictEqual(result.non2xx + result.errors, 0, "fast requests failed");
        // The releases that replaced a colour waited for its slow requests.
        const entries = (await history(rig, host, s.instance!)).slice(-3);
        for (const e of entries) {
            assert.strictEqual(e.result, "success");
            assert.strictEqual(e.drain_open, 0, JSON.stringify(e));
        }
        assert.ok(
            entries.every((e) => Number(e.drain_s) > 0.3),
            `a drain did not wait: ${entries.map((e) => e.drain_s).join(" ")}`,
        );
    });

    it("a streaming response is closed only after the drain budget, cleanly, and the log says so", async () => {
        const s = { ...(await fresh("stream", 18720)), drainSeconds: 3, stopTimeoutSeconds: 5 };
        await releaseOk(s, "1.0.0");
        const lines: string[] = [];
        let ended = 0;
        const stream = new Promise<string>((resolve) => {
            http.get({ host: "127.0.0.1", port: s.publicPort, path: "/stream", agent: false }, (res) => {
                res.setEncoding("utf8");
                res.on("data", (d: string) => lines.push(...d.split("\n").filter(Boolean)));
                res.on("end", () => {
                    ended = Date.now();
                    resolve("end");
                });
                res.on("error", (e) => resolve(`error ${e.message}`));
            }).on("error", (e) => resolve(`error ${e.message}`));
        });
        await sleep(500);
        // Switch away from blue (the stream stays on it), then replace blue: the drain waits for it.
        await releaseOk(s, "2.0.0");
        assert.ok(lines.length > 0 && ended === 0, "the stream still runs after the switch");
        const started = Date.now();
        const r = await releaseOk(s, "1.0.0", ["--fresh"]);
        assert.strictEqual(await stream, "end", "the response ends cleanly (chunked end), not cut");
        const afterDrain = (ended - started) / 1000;
        assert.ok(afterDrain >= 3, `the stream ended ${afterDrain}s after the release started`);
        assert.strictEqual(lines.at(-1), "stopped", "the app ended it on SIGTERM, after the drain");
        assert.ok(
            lines.every((l) => l === "stopped" || l.startsWith("1.0.0 ")),
            lines.slice(0, 3).join(),
        );
        assert.match(
            r.stderr,
            /drained bgdrain-stream-blue for 3\.\d+s \(--drain-timeout 3\): 1 session\(s\) still open/,
        );
        const last = (await history(rig, host, s.instance!)).pop()!;
        assert.strictEqual(last.drain_open, 1);
        assert.ok(Number(last.drain_s) >= 3 && Number(last.drain_s) < 5, String(last.drain_s));
    });
});
