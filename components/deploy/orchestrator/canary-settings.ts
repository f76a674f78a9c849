/**
 * A canary release's steps and thresholds: one schema, which the stack config (deploy.canary) and
 * the orchestrator's --canary option both parse with, so the defaults and bounds are written once.
 *
 * Defaults, and why:
 * - steps 5 %, 25 %, 50 % of new requests, 60 s each: a bad version reaches one request in twenty
 *   first; three minutes in all is long enough for errors to show and short enough for a deploy.
 *   Passing the last step promotes the new version to every request.
 * - maxErrorRatio 0.01: the new version may fail at most one request in a hundred more than the
 *   stable one over the same window (5xx responses, connection and response errors).
 * - maxLatencyRatio 1.5 and maxLatencyIncreaseMs 50: the new version fails on latency when its
 *   average response time is both more than 1.5 times the stable one's and more than 50 ms above
 *   it. The ratio alone would fail 3 ms against 1 ms; the milliseconds alone would let a slow
 *   endpoint double.
 * - minRequests 100: fewer requests on the new version in a step prove nothing (at 5 % errors, 100
 *   requests show 5 on average); the step says so and waits for more.
 * - maxWaitSeconds 300: how long a step waits beyond its bake for enough requests before the
 *   canary fails (rather than passing unjudged).
 */
import { z } from "zod";
import { hostLimits } from "../host-facts";

export const canaryDefaults = {
    steps: [
        { weight: 5, bakeSeconds: 60 },
        { weight: 25, bakeSeconds: 60 },
        { weight: 50, bakeSeconds: 60 },
    ],
    maxErrorRatio: 0.01,
    maxLatencyRatio: 1.5,
    maxLatencyIncreaseMs: 50,
    minRequests: 100,
    maxWaitSeconds: 300,
} as const;

/** The longest bake of one step, and the longest wait for requests: an hour each. */
export const CANARY_MAX_SECONDS = 3600;
/** The most steps a canary has. */
export const CANARY_MAX_STEPS = 20;

const { min: weightMin, max: weightMax } = hostLimits.canaryWeight;
const whole = (what: string, min: number, max: number) => {
    const error = `must be a whole number ${what} from ${min} to ${max}`;
    return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const ratio = (what: string, min: number, max: number) => {
    const error = `must be a number from ${min} to ${max} (${what})`;
    return z.number({ error }).min(min, { error }).max(max, { error });
};

const stepSchema = z.strictObject({
    weight: whole(
        `of percent (the share of new requests the new version gets; passing the last step promotes it to 100)`,
        weightMin,
        weightMax,
    ),
    bakeSeconds: whole("of seconds (how long the step runs before it is judged)", 1, CANARY_MAX_SECONDS),
});

export const canarySettingsSchema = z.strictObject({
    steps: z
        .array(stepSchema)
        .min(1, { error: "must list at least one step, such as [{weight: 5, bakeSeconds: 60}]" })
        .max(CANARY_MAX_STEPS, { error: `must list at most ${CANARY_MAX_STEPS} steps` })
        .refine((steps) => steps.every((s, i) => i === 0 || s.weight > steps[i - 1].weight), {
            error: "weights must grow from step to step, such as 5, 25, 50",
        })
        .default(canaryDefaults.steps.map((s) => ({ ...s }))),
    maxErrorRatio: ratio("0.01: one request in a hundred more than the stable version", 0, 1).default(
        canaryDefaults.maxErrorRatio,
    ),
    maxLatencyRatio: ratio("the new version's average response time over the stable one's", 1, 100).default(
        canaryDefaults.maxLatencyRatio,
    ),
    maxLatencyIncreaseMs: whole("of milliseconds", 0, 600000).default(canaryDefaults.maxLatencyIncreaseMs),
    minRequests: whole("of requests the new version must get in a step to be judged", 1, 1000000).default(
        canaryDefaults.minRequests,
    ),
    maxWaitSeconds: whole(
        "of seconds a step waits beyond its bake for enough requests",
        0,
        CANARY_MAX_SECONDS,
    ).default(canaryDefaults.maxWaitSeconds),
});

/** A canary's steps and thresholds, defaults applied. */
export type CanarySettings = z.output<typeof canarySettingsSchema>;
/** What config or the command line may give, defaults not yet applied. */
export type CanarySettingsInput = z.input<typeof canarySettingsSchema>;
