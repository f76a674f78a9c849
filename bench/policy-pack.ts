/**
 * npm run bench:policy [-- N] — how long the policy pack adds to a `pulumi preview` of the local
 * stack: N runs (default 5) of `scripts/local-pulumi.sh preview` without and with
 * `--policy-pack policy`, alternating, after one unmeasured run of each. Each run is timed from
 * start to exit, the way a user (or the workflow's preview step) waits for it. The last line is:
 *
 *   runs=N preview_s=P with_pack_s=W added_s=W-P
 *
 * P and W are medians. Needs the local stack up (scripts/local-up.sh; CICD_LOCAL_STATE selects
 * another state directory); it changes nothing.
 */
import * as path from "path";
import { run } from "../testkit/rig";

const ROOT = path.resolve(__dirname, "..");

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function preview(withPack: boolean): Promise<number> {
    const args = ["preview", "--expect-no-changes", ...(withPack ? ["--policy-pack", "policy"] : [])];
    const started = process.hrtime.bigint();
    const r = await run(path.join(ROOT, "scripts/local-pulumi.sh"), args);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.code !== 0) {
        throw new Error(
            `scripts/local-pulumi.sh ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`,
        );
    }
    if (withPack && !/Policies:[\s\S]*cicd-pipeline@v/.test(r.stdout)) {
        throw new Error(`the preview ran no policy pack:\n${r.stdout}`);
    }
    return seconds;
}

async function main(): Promise<void> {
    const runs = Number(process.argv[2] ?? 5);
    if (!Number.isInteger(runs) || runs < 1)
        throw new Error(`runs must be a whole number, got ${process.argv[2]}`);
    await preview(false);
    await preview(true);
    const without: number[] = [];
    const withPack: number[] = [];
    for (let i = 0; i < runs; i++) {
        without.push(await preview(false));
        withPack.push(await preview(true));
        console.log(
            `run ${i + 1}: preview ${without[i].toFixed(2)}s, with the pack ${withPack[i].toFixed(2)}s`,
        );
    }
    const p = median(without);
    const w = median(withPack);
    console.log(
        `runs=${runs} preview_s=${p.toFixed(2)} with_pack_s=${w.toFixed(2)} added_s=${(w - p).toFixed(2)}`,
    );
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
