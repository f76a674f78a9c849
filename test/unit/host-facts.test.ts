/**
 * The facts the bash programs share with the TypeScript side are defined in TypeScript
 * (components/deploy/host-facts.ts, components/deploy/patterns.ts); the bash copies are read out of
 * the programs here and must equal them: every `readonly RE_*` pattern (judged on the same samples,
 * valid and hostile), every default, bound and exit code of bluegreen, the gate's list of options,
 * and the patterns of scripts/rollback.sh. The stack config is held to the same defaults and bounds.
 * A fact changed on one side only fails here.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseConfig, RawConfig, readStackFile } from "../../config";
import {
    gateExitCodes,
    hostDefaults,
    hostExitCodes,
    hostLimits,
    hostToolPath,
} from "../../components/deploy/host-facts";
import { hostPatterns, ownerPattern, stackReference } from "../../components/deploy/patterns";
import { testSecrets } from "../../testkit/mocks";

const ROOT = path.resolve(__dirname, "..", "..");
const TOOL = path.join(ROOT, "components", "deploy", "host", "bluegreen");
const GATE = path.join(ROOT, "components", "deploy", "host", "bluegreen-gate");
const ROLLBACK = path.join(ROOT, "scripts", "rollback.sh");
const HOST_SETUP = path.join(ROOT, "scripts", "host-setup.sh");
const read = (file: string) => fs.readFileSync(file, "utf8");

const samples = [
    ...["1.4.2", "v1.0.0-rc.1", "_x", "-x", ".x", "1.0;id", "1.0'", "$(id)", "a b", "", "a".repeat(129)],
    ...[
        `sha256:${"a".repeat(64)}`,
        `sha256:${"A".repeat(64)}`,
        `sha256:${"a".repeat(63)}`,
        `sha512:${"a".repeat(64)}`,
    ],
    ...["docker.io/acme/web-app", "acme/web-app", "haproxy", "127.0.0.1:5555/bluegreen-test/app"],
    ...[
        "registry.example.com:8443/team/app",
        "Docker.io/acme/app",
        "acme/app:1.0",
        "acme//app",
        "acme/app;reboot",
    ],
    ...[
        `haproxy:2.6@sha256:${"c".repeat(64)}`,
        "haproxy:2.6",
        "haproxy 2.6",
        "512m",
        "2g",
        "0m",
        "512",
        "1g;id",
    ],
    ...["/health", "/x`id`", "health", "app", "web-1", "Web", "127.0.0.1", "::1", "0.0.0.0;id", "root$"],
    ...[
        "production",
        "acme/production",
        "acme/web/production",
        "a/b/c/d",
        "/production",
        "prod/",
        "x".repeat(100),
    ],
    ...["x".repeat(101), "production-web-1.example.com-22", "a".repeat(200), "a".repeat(201), "a\nb"],
];

/** The `readonly RE_*` patterns of a bash file, as bash's [[ =~ ]] judges each sample. */
function bashVerdicts(file: string): Map<string, boolean[]> {
    const names = [...read(file).matchAll(/^readonly (RE_[A-Z_]+)=/gm)].map((m) => m[1]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-facts-"));
    try {
        fs.writeFileSync(path.join(dir, "samples"), samples.join("\0") + "\0");
        const script = [
            `eval "$(grep -E '^readonly RE_[A-Z_]+=' ${JSON.stringify(file)})"`,
            ...names.map(
                (n) =>
                    `printf '%s ' ${n}; while IFS= read -r -d '' s; do [[ "$s" =~ $${n} ]] && printf 1 || printf 0; done < "$SAMPLES"; echo`,
            ),
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], {
            encoding: "utf8",
            env: { PATH: "/usr/bin:/bin", SAMPLES: path.join(dir, "samples") },
        });
        assert.strictEqual(r.status, 0, r.stderr);
        const out = new Map<string, boolean[]>();
        for (const line of r.stdout.trim().split("\n")) {
            const [name, bits] = line.split(" ");
            out.set(
                name,
                [...(bits ?? "")].map((b) => b === "1"),
            );
        }
        return out;
    } finally {
        fs.rmSync(dir, { recursive: true });
    }
}

/**
 * Each pattern of each bash file: the TypeScript pattern it must equal, or why it has none (a part
 * of another pattern, or a value no TypeScript code passes). A new pattern must be added here.
 */
const patternSources: Record<string, Record<string, RegExp | string>> = {
    [TOOL]: {
        RE_INSTANCE: hostPatterns.instance,
        RE_COMPONENT: "a part of RE_REPO",
        RE_DOMAIN: "a part of RE_REPO",
        RE_REPO: hostPatterns.image,
        RE_TAG: hostPatterns.version,
        RE_DIGEST: hostPatterns.digest,
        RE_PROXY_IMAGE: hostPatterns.proxyImage,
        RE_MEMORY: hostPatterns.memory,
        RE_URL_PATH: hostPatterns.urlPath,
        RE_ABS_PATH: "--state-dir and --env-file: host paths, which the gate never passes",
        RE_ADDR: hostPatterns.address,
        RE_OWNER: ownerPattern,
        RE_UINT: "the digits of a number, whose bounds are checked against hostLimits below",
    },
    [ROLLBACK]: {
        RE_STACK: stackReference,
        RE_TAG: hostPatterns.version,
        RE_DIGEST: hostPatterns.digest,
    },
};

/** The staging stack's config with deploy.* edited. */
function stagingWith(edit: (deploy: Record<string, unknown>) => void): RawConfig {
    const raw = readStackFile("staging", { overrides: testSecrets("staging") });
    const key = "cicd-pipeline:deploy";
    const deploy = JSON.parse(raw.values[key]) as Record<string, unknown>;
    edit(deploy);
    return { ...raw, values: { ...raw.values, [key]: JSON.stringify(deploy) } };
}

function configAccepts(edit: (deploy: Record<string, unknown>) => void): boolean {
    try {
        parseConfig(stagingWith(edit));
        return true;
    } catch {
        return false;
    }
}

/** bluegreen's top-level `NAME=value` assignments (its option defaults). */
function toolAssignments(): Map<string, string> {
    const text = read(TOOL);
    const block = text.slice(text.indexOf("# --- options"), text.indexOf("parse_options() {"));
    return new Map([...block.matchAll(/^([A-Z_]+)=("?)([^"\n]*)\2$/gm)].map((m) => [m[1], m[3]]));
}

/** The default bluegreen's help text gives an option, in [brackets]. */
function helpDefault(option: string): string | undefined {
    return new RegExp(`^ {2}--${option} \\S+ +.*\\[([^\\]]+)\\]$`, "m").exec(read(TOOL))?.[1];
}

describe("host facts: the bash programs' copies equal the TypeScript definitions", () => {
    describe("patterns", () => {
        for (const [file, sources] of Object.entries(patternSources)) {
            const program = path.relative(ROOT, file);
            const verdicts = bashVerdicts(file);

            it(`${program}: every readonly RE_* has its TypeScript source, or a reason for none`, () => {
                assert.deepStrictEqual([...verdicts.keys()].sort(), Object.keys(sources).sort());
            });

            for (const [name, source] of Object.entries(sources)) {
                if (typeof source === "string") continue;
                it(`${program} ${name} judges every sample as ${source}`, () => {
                    const bash = verdicts.get(name) ?? [];
                    assert.strictEqual(bash.length, samples.length, `${name} is not defined in ${program}`);
                    const differ = samples.filter((s, i) => bash[i] !== source.test(s));
                    assert.deepStrictEqual(differ, [], `${program} ${name} and TypeScript disagree on these`);
                });
            }
        }
    });

    describe("bluegreen's defaults", () => {
        const d = hostDefaults;
        const expected: [string, string, string | number][] = [
            ["INSTANCE", "instance", d.instance],
            ["BIND", "bind", d.bind],
            ["PUBLIC_PORT", "public-port", d.publicPort],
            ["APP_PORT", "app-port", d.appPort],
            ["BLUE_PORT", "blue-port", d.bluePort],
            ["GREEN_PORT", "green-port", d.greenPort],
            ["HEALTH_PATH", "health-path", d.health.path],
            ["HEALTH_SUCCESSES", "health-successes", d.health.successes],
            ["HEALTH_INTERVAL_MS", "health-interval-ms", d.health.intervalMs],
            ["HEALTH_TIMEOUT", "health-timeout", d.health.timeoutSeconds],
            ["LOCK_TIMEOUT", "lock-timeout", d.lockTimeoutSeconds],
            ["KEEP_RELEASES", "keep-releases", d.keepReleases],
            ["DRAIN_TIMEOUT", "drain-timeout", d.drainSeconds],
            ["STOP_TIMEOUT", "stop-timeout", d.stopTimeoutSeconds],
        ];
        const assigned = toolAssignments();
        for (const [variable, option, value] of expected) {
            it(`--${option}: ${value} in the program and in its help text`, () => {
                assert.strictEqual(assigned.get(variable), String(value), `${variable}= in bluegreen`);
                assert.strictEqual(
                    helpDefault(option),
                    String(value),
                    `[default] of --${option} in bluegreen help`,
                );
            });
        }
        it(`--smoke-path: ${d.smokePaths.join(" ")}`, () => {
            const m = /\|\| SMOKE_PATHS=\(([^)]*)\)/.exec(read(TOOL));
            assert.deepStrictEqual(
                m?.[1].split(" ").map((p) => JSON.parse(p)),
                [...d.smokePaths],
            );
            assert.strictEqual(helpDefault("smoke-path"), d.smokePaths.join(" "));
        });
    });

    describe("bluegreen's bounds and exit codes", () => {
        const text = read(TOOL);
        const ranges = new Map(
            [...text.matchAll(/check_range ([a-z-]+) "\$[A-Z_]+" (\d+) (\d+)/g)].map((m) => [
                m[1],
                [Number(m[2]), Number(m[3])],
            ]),
        );
        const l = hostLimits;
        const expected: [string, { min: number; max: number }][] = [
            ["health-successes", l.healthSuccesses],
            ["health-interval-ms", l.healthIntervalMs],
            ["health-timeout", l.healthTimeoutSeconds],
            ["keep-releases", l.keepReleases],
            ["lock-timeout", l.lockTimeoutSeconds],
            ["drain-timeout", l.drainSeconds],
            ["stop-timeout", l.stopTimeoutSeconds],
            ["weight", l.canaryWeight],
            ["pids-limit", l.pids],
        ];
        for (const [option, { min, max }] of expected) {
            it(`--${option}: ${min} to ${max}`, () => {
                assert.deepStrictEqual(ranges.get(option), [min, max]);
            });
        }
        it(`ports: ${l.port.min} to ${l.port.max}; memory: at least ${l.memoryMinMegabytes}m`, () => {
            assert.match(
                text,
                new RegExp(`\\(\\(10#\\$2 >= ${l.port.min} && 10#\\$2 <= ${l.port.max}\\)\\)`),
            );
            assert.match(text, new RegExp(`\\(\\(10#\\$\\{MEMORY%m\\} >= ${l.memoryMinMegabytes}\\)\\)`));
        });
        it("exit codes", () => {
            const line = /^readonly (EXIT_USAGE=.*)$/m.exec(text)?.[1] ?? "";
            const codes = Object.fromEntries(line.split(" ").map((a) => a.split("=")));
            assert.deepStrictEqual(codes, {
                EXIT_USAGE: String(hostExitCodes.usage),
                EXIT_LOCKED: String(hostExitCodes.locked),
                EXIT_PULL: String(hostExitCodes.pull),
                EXIT_UNHEALTHY: String(hostExitCodes.unhealthy),
                EXIT_SMOKE: String(hostExitCodes.smoke),
                EXIT_PROXY: String(hostExitCodes.proxy),
                EXIT_DEPS: String(hostExitCodes.deps),
            });
            const gate = /^readonly (EXIT_REFUSED=.*)$/m.exec(read(GATE))?.[1] ?? "";
            assert.strictEqual(
                gate,
                `EXIT_REFUSED=${gateExitCodes.refused} EXIT_UNPINNED=${gateExitCodes.unpinned}`,
            );
        });
    });

    describe("the stack config (deploy.*) applies the same defaults and bounds", () => {
        it("fills the tool's defaults", () => {
            const config = parseConfig(
                stagingWith((deploy) => {
                    for (const k of [
                        "publicPort",
                        "appPort",
                        "bluePort",
                        "greenPort",
                        "health",
                        "smokePaths",
                    ])
                        delete deploy[k];
                    for (const k of ["keepReleases", "lockTimeoutSeconds", "instance", "bind"])
                        delete deploy[k];
                    delete deploy.drainSeconds;
                    delete deploy.stopTimeoutSeconds;
                }),
            ).deploy;
            const d = hostDefaults;
            assert.deepStrictEqual(
                {
                    publicPort: config?.publicPort,
                    appPort: config?.appPort,
                    bluePort: config?.bluePort,
                    greenPort: config?.greenPort,
                    health: config?.health,
                    smokePaths: config?.smokePaths,
                    keepReleases: config?.keepReleases,
                    lockTimeoutSeconds: config?.lockTimeoutSeconds,
                    drainSeconds: config?.drainSeconds,
                    stopTimeoutSeconds: config?.stopTimeoutSeconds,
                },
                {
                    publicPort: d.publicPort,
                    appPort: d.appPort,
                    bluePort: d.bluePort,
                    greenPort: d.greenPort,
                    health: d.health,
                    smokePaths: d.smokePaths,
                    keepReleases: d.keepReleases,
                    lockTimeoutSeconds: d.lockTimeoutSeconds,
                    drainSeconds: d.drainSeconds,
                    stopTimeoutSeconds: d.stopTimeoutSeconds,
                },
            );
            // Absent instance and bind: the component passes no option, so the tool's defaults apply.
            assert.strictEqual(config?.instance, undefined);
            assert.strictEqual(config?.bind, undefined);
        });

        const l = hostLimits;
        const bounds: [
            string,
            (deploy: Record<string, unknown>, v: number) => void,
            { min: number; max: number },
        ][] = [
            ["publicPort", (c, v) => (c.publicPort = v), l.port],
            ["appPort", (c, v) => (c.appPort = v), l.port],
            ["health.successes", (c, v) => (c.health = { successes: v }), l.healthSuccesses],
            ["health.intervalMs", (c, v) => (c.health = { intervalMs: v }), l.healthIntervalMs],
            ["health.timeoutSeconds", (c, v) => (c.health = { timeoutSeconds: v }), l.healthTimeoutSeconds],
            ["keepReleases", (c, v) => (c.keepReleases = v), l.keepReleases],
            ["lockTimeoutSeconds", (c, v) => (c.lockTimeoutSeconds = v), l.lockTimeoutSeconds],
            ["drainSeconds", (c, v) => (c.drainSeconds = v), l.drainSeconds],
            ["stopTimeoutSeconds", (c, v) => (c.stopTimeoutSeconds = v), l.stopTimeoutSeconds],
            ["limits.pids", (c, v) => (c.limits = { pids: v }), l.pids],
        ];
        for (const [key, set, { min, max }] of bounds) {
            it(`deploy.${key}: ${min} to ${max}`, () => {
                assert.ok(
                    configAccepts((c) => set(c, min)),
                    `${min} refused`,
                );
                assert.ok(
                    configAccepts((c) => set(c, max)),
                    `${max} refused`,
                );
                assert.ok(!configAccepts((c) => set(c, min - 1)), `${min - 1} accepted`);
                assert.ok(!configAccepts((c) => set(c, max + 1)), `${max + 1} accepted`);
            });
        }
        it(`deploy.limits.memory: at least ${l.memoryMinMegabytes}m`, () => {
            assert.ok(configAccepts((c) => (c.limits = { memory: `${l.memoryMinMegabytes}m` })));
            assert.ok(!configAccepts((c) => (c.limits = { memory: `${l.memoryMinMegabytes - 1}m` })));
        });
    });

    describe("the gate and the setup agree with the tool", () => {
        /** Options the tool's parse_options takes per subcommand (the `case "$command:$opt"` arms). */
        function toolOptions(): Record<string, Set<string>> {
            const text = read(TOOL);
            const out: Record<string, Set<string>> = {};
            const add = (sub: string, opt: string) => (out[sub] ??= new Set()).add(opt);
            const subs = [
                "release",
                "status",
                "history",
                "claim",
                "uninstall",
                "canary-weight",
                "canary-stats",
                "canary-promote",
                "canary-abort",
            ];
            for (const m of text.matchAll(/^ {12}([*a-z-]+:--[a-z-]+(?: \| [a-z-]+:--[a-z-]+)*)\)/gm)) {
                for (const arm of m[1].split(" | ")) {
                    const [sub, opt] = arm.split(":");
                    for (const s of sub === "*" ? subs : [sub]) add(s, opt);
                }
            }
            for (const m of text.matchAll(/"\$(?:command|scope):\$opt" == ([a-z-]+):(--[a-z-]+)/g))
                add(m[1], m[2]);
            // canary-start takes release's options (its scope), and --weight.
            out["canary-start"] = new Set([...out.release, ...(out["canary-start"] ?? [])]);
            return out;
        }

        it("the gate passes each subcommand's options but --state-dir and --env-file (paths on the host)", () => {
            const gate = read(GATE);
            const tool = toolOptions();
            for (const sub of [
                "release",
                "status",
                "history",
                "claim",
                "uninstall",
                "canary-start",
                "canary-weight",
                "canary-stats",
                "canary-promote",
                "canary-abort",
            ]) {
                const values = new RegExp(`\\[${sub}\\]="([^"]*)"`).exec(gate)?.[1].split(" ") ?? [];
                const flags = /declare -A FLAG_OPTIONS=\((.*)\)/.exec(gate)?.[1] ?? "";
                const flag = new RegExp(`\\[${sub}\\]="([^"]*)"`).exec(flags)?.[1].split(" ") ?? [];
                const expected = [...tool[sub]].filter((o) => o !== "--state-dir" && o !== "--env-file");
                assert.deepStrictEqual([...values, ...flag].sort(), expected.sort(), `bluegreen ${sub}`);
            }
        });

        it(`the gate runs the tool installed at ~/${hostToolPath}`, () => {
            assert.match(
                read(GATE),
                new RegExp(`^readonly TOOL="${hostToolPath.replace(/\./g, "\\.")}"$`, "m"),
            );
        });

        it("host-setup.sh pins the tool where the gate reads its pins", () => {
            const setup = read(HOST_SETUP);
            const gateAt = /^readonly GATE="([^"]+)"$/m.exec(setup)?.[1] ?? "";
            const pins = /^readonly PINS="([^"]+)"$/m.exec(setup)?.[1];
            // The gate reads ${GATE_DIR%/bin}/etc/bluegreen/tool-sha256.
            assert.match(read(GATE), /^readonly PINS="\$\{GATE_DIR%\/bin\}\/etc\/bluegreen\/tool-sha256"$/m);
            assert.strictEqual(pins, `${path.dirname(path.dirname(gateAt))}/etc/bluegreen/tool-sha256`);
        });

        it("rollback.sh reads the stack's config under the project's name (Pulumi.yaml)", () => {
            const project = /^name: (\S+)$/m.exec(read(path.join(ROOT, "Pulumi.yaml")))?.[1];
            const used = [...read(ROLLBACK).matchAll(/"([a-z0-9-]+):" \+ k/g)].map((m) => m[1]);
            assert.deepStrictEqual(used, [project]);
        });
    });
});
