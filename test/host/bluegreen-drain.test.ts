/**
 * Draining, in the host tier (test/host/sandbox.ts): no colour is stopped while the proxy reports
 * sessions on it. Before a colour is replaced, removed by a failed release or by uninstall, it is
 * set to drain through the runtime API, the tool polls `show stat` until the colour's scur is 0 (at
 * most --drain-timeout seconds), then `docker stop -t <stop-timeout>` (SIGTERM), then `docker rm`.
 * The socat stand-in plays the sessions (servers/NAME.scur: one number per poll).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Call, callsOf, digest, Host, freshHostPerTest } from "./sandbox";

const D1 = digest("1");
const D2 = digest("2");
const D3 = digest("3");

/** What the tool asked of the proxy and of docker about one colour, in order, in short form. */
function lifecycle(calls: Call[], colour: string): string[] {
    const out: string[] = [];
    // A poll is this colour's while it drains: between its drain and its stop.
    let draining = false;
    for (const c of calls) {
        const input = c.at(-1) ?? "";
        if (c[0] === "docker" && c[1] === "stop") draining = false;
        if (c[0] === "socat" && input.includes(`app/${colour} state drain`)) {
            out.push("drain");
            draining = true;
        } else if (c[0] === "socat" && input === "<show stat app 4 -1" && draining) out.push("poll");
        else if (c[0] === "socat" && input === `<set server app/${colour} state maint`) out.push("maint");
        else if (c[0] === "docker" && c[1] === "stop" && c.at(-1) === `app-${colour}`)
            out.push(`stop ${c.slice(2, -1).join(" ")}`);
        else if (c[0] === "docker" && c[1] === "rm" && c.at(-1) === `app-${colour}`) out.push("rm");
        else if (c[0] === "docker" && c[1] === "run" && c.includes(`app-${colour}`)) out.push("run");
    }
    return out;
}

describe("host tier: draining before a colour stops", function () {
    let host: Host;
    freshHostPerTest(this, (h) => (host = h));
    // Three releases and a drain each: more than the tier's usual 20 s when four files run at once.
    this.timeout(60_000);

    /** Sessions the proxy reports on a colour, one number per `show stat`. */
    function sessions(colour: string, ...scur: number[]): void {
        const f = path.join(host.state, "containers", "app-proxy", "servers", `${colour}.scur`);
        fs.writeFileSync(f, scur.map((n) => `${n}\n`).join(""));
    }

    /** Three releases: the third replaces blue, which the first started and the second retained. */
    function twoReleased(): void {
        host.push(D1);
        host.push(D2);
        host.push(D3);
        assert.strictEqual(host.release("1.0.0", D1).code, 0);
        assert.strictEqual(host.release("2.0.0", D2).code, 0);
    }

    it("replacing the retained colour: drain, wait until no session, docker stop -t 10, rm, then start", () => {
        twoReleased();
        sessions("blue", 3, 1, 0);
        const r = host.release("3.0.0", D3);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(lifecycle(r.calls, "blue"), [
            "drain",
            "poll",
            "poll",
            "poll",
            "stop -t 10",
            "rm",
            "maint",
            "run",
        ]);
        assert.match(r.stderr, /drained app-blue in [0-9.]+s: no session open/);
        const entry = host.releases().at(-1)!;
        assert.strictEqual(entry.result, "success");
        assert.strictEqual(entry.drain_open, 0);
        assert.ok(Number(entry.drain_s) >= 0.4, `two waits of 0.2 s, drain_s ${String(entry.drain_s)}`);
        assert.deepStrictEqual(host.routes(), ["blue"]);
    });

    it("sessions that outlast --drain-timeout: stopped after it, the log records how many were open", () => {
        twoReleased();
        sessions("blue", 2);
        const r = host.release("3.0.0", D3, "--drain-timeout", "1", "--stop-timeout", "4");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(
            r.stderr,
            /drained app-blue for [0-9.]+s \(--drain-timeout 1\): 2 session\(s\) still open, stopping it/,
        );
        const steps = lifecycle(r.calls, "blue");
        assert.ok(steps.filter((s) => s === "poll").length >= 2, steps.join(","));
        assert.deepStrictEqual(steps.slice(-4), ["stop -t 4", "rm", "maint", "run"]);
        const entry = host.releases().at(-1)!;
        assert.strictEqual(entry.drain_open, 2);
        // At least the budget; a poll of the stand-in proxy can take a while on a busy machine.
        assert.ok(Number(entry.drain_s) >= 1 && Number(entry.drain_s) < 5, String(entry.drain_s));
    });

    it("--drain-timeout 0 stops the colour after one look at its sessions", () => {
        twoReleased();
        sessions("blue", 5);
        const r = host.release("3.0.0", D3, "--drain-timeout", "0");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(lifecycle(r.calls, "blue"), [
            "drain",
            "poll",
            "stop -t 10",
            "rm",
            "maint",
            "run",
        ]);
        assert.strictEqual(host.releases().at(-1)!.drain_open, 5);
    });

    it("a first release and an instant rollback stop nothing", () => {
        host.push(D1);
        host.push(D2);
        const first = host.release("1.0.0", D1);
        assert.deepStrictEqual(callsOf(first.calls, "docker", "stop"), []);
        assert.strictEqual(host.releases().at(-1)!.drain_s, 0);
        host.release("2.0.0", D2);
        const back = host.release("1.0.0", D1);
        assert.strictEqual(back.code, 0, back.stderr);
        assert.strictEqual(host.releases().at(-1)!.instant, true);
        assert.deepStrictEqual(callsOf(back.calls, "docker", "stop"), []);
        assert.deepStrictEqual(lifecycle(back.calls, "blue"), []);
    });

    it("a failed smoke test: switched back first, then the new colour is drained and stopped", () => {
        host.push(D1);
        host.push(D2, "fail /version");
        host.release("1.0.0", D1);
        const r = host.release("2.0.0", D2, "--smoke-path", "/version", "--drain-timeout", "5");
        // The requests the new colour took in the moment it served finish before it stops.
        assert.strictEqual(r.code, 6, r.stderr);
        const inputs = callsOf(r.calls, "socat").map((c) => c.at(-1));
        const back = inputs.indexOf(
            "<set weight app/blue 100; set server app/blue state ready; set server app/green state maint",
        );
        const drain = inputs.indexOf("<set server app/green state drain");
        assert.ok(back >= 0 && drain > back, `switch back before the drain: ${inputs.join(" | ")}`);
        assert.deepStrictEqual(lifecycle(r.calls, "green").slice(-4), ["poll", "stop -t 10", "rm", "maint"]);
        assert.strictEqual(host.container("app-green"), undefined);
        assert.deepStrictEqual(host.routes(), ["blue"]);
        assert.strictEqual(host.releases().at(-1)!.result, "failed");
    });

    it("a new colour that never got healthy is drained too (no session: stopped at once)", () => {
        host.push(D1);
        host.push(D2, "unhealthy");
        host.release("1.0.0", D1);
        const r = host.release("2.0.0", D2, "--health-timeout", "1");
        assert.strictEqual(r.code, 5, r.stderr);
        assert.deepStrictEqual(lifecycle(r.calls, "green"), [
            "run",
            "drain",
            "poll",
            "stop -t 10",
            "rm",
            "maint",
        ]);
    });

    it("a proxy that does not answer: the colour is stopped without waiting, and the release goes on", () => {
        twoReleased();
        fs.writeFileSync(path.join(host.state, "proxy-refuses"), "");
        const r = host.release("3.0.0", D3);
        // The refusing proxy fails the switch itself (exit 7); the drain did not wait for it.
        assert.strictEqual(r.code, 7, r.stderr);
        assert.match(
            r.stderr,
            /cannot set app-blue to drain through .*admin\.sock: stopping it without waiting/,
        );
        assert.deepStrictEqual(lifecycle(r.calls, "blue").slice(0, 3), ["drain", "stop -t 10", "rm"]);
    });

    it("uninstall drains both colours, stops them gracefully, and only then removes the proxy", () => {
        twoReleased();
        sessions("green", 1, 0);
        const r = host.run(["uninstall", "--drain-timeout", "5", "--stop-timeout", "3"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(lifecycle(r.calls, "green"), [
            "drain",
            "poll",
            "poll",
            "stop -t 3",
            "rm",
            "maint",
        ]);
        assert.deepStrictEqual(lifecycle(r.calls, "blue").slice(0, 1), ["drain"]);
        const order = r.calls
            .filter((c) => c[0] === "docker" && (c[1] === "stop" || c[1] === "rm"))
            .map((c) => `${c[1]} ${c.at(-1)}`);
        assert.deepStrictEqual(order.slice(0, 4), [
            "stop app-blue",
            "rm app-blue",
            "stop app-green",
            "rm app-green",
        ]);
        // Then the proxy, by its ID (the uninstall finds the instance's containers by label).
        assert.strictEqual(order.length, 5, order.join(", "));
        assert.match(order[4], /^rm [a-f0-9]{64}$/);
        assert.strictEqual(host.container("app-proxy"), undefined);
    });

    for (const [option, bad, message] of [
        ["--drain-timeout", "3601", /invalid drain-timeout 3601: must be 0-3600/],
        ["--drain-timeout", "-1", /invalid drain-timeout -1: must be a whole number/],
        ["--stop-timeout", "601", /invalid stop-timeout 601: must be 0-600/],
        ["--stop-timeout", "1s", /invalid stop-timeout 1s: must be a whole number/],
    ] as const) {
        it(`refuses ${option} ${bad} before doing anything, exit 2`, () => {
            host.push(D1);
            const r = host.release("1.0.0", D1, option, bad);
            assert.strictEqual(r.code, 2, r.stderr);
            assert.match(r.stderr, message);
            assert.deepStrictEqual(r.calls, []);
        });
    }
});
