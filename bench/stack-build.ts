/**
 * Times building each stack's program under mocks: `npm run bench:stack-build [-- RUNS]`.
 * The first build of the process also loads the Pulumi SDKs and is reported apart; the median is
 * over the following RUNS builds (default 5), each re-evaluating the program from scratch.
 */
import { performance } from "perf_hooks";
import { buildStack } from "../testkit/mocks";

async function main(): Promise<void> {
    const runs = Number(process.argv[2] ?? 5);
    for (const stack of ["staging", "production"]) {
        const first = performance.now();
        const built = await buildStack(stack);
        const cold = performance.now() - first;
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
            const start = performance.now();
            await buildStack(stack);
            times.push(performance.now() - start);
        }
        times.sort((a, b) => a - b);
        const median = times[Math.floor(times.length / 2)];
        console.log(
            `stack=${stack} resources=${built.mocks.resources.length} first_ms=${cold.toFixed(0)} ` +
                `median_ms=${median.toFixed(0)} runs=${runs}`,
        );
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
