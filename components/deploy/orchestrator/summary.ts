/**
 * What hosts and the orchestrator print, as schemas: a host's status line (`bluegreen status`, and
 * the last line of `bluegreen release`; see status_json in host/bluegreen) and the orchestrator's
 * release summary. What a host says is input like any other: each value is checked against the same
 * strict pattern as the options it came from, before it can reach a command line or the stack's
 * outputs.
 */
import { z } from "zod";
import { hostPatterns } from "../patterns";

/** A value a host reports, possibly empty ("" when the instance serves nothing yet). */
const reported = (pattern: RegExp) =>
    z
        .union([z.literal(""), z.string().regex(pattern)])
        .nullish()
        .transform((v) => v ?? "");

/** The colours a host runs the app in (host/bluegreen: blue and green containers). */
export const colours = ["blue", "green"] as const;
export type Colour = (typeof colours)[number];

/** A host's status line, as `bluegreen status` prints it (fields not listed here are ignored). */
export const hostStatusSchema = z.object({
    instance: z.string().regex(hostPatterns.instance),
    version: reported(hostPatterns.version),
    digest: reported(hostPatterns.digest),
    image: reported(hostPatterns.image),
    /** The colour the proxy sends requests to ("" when the instance serves nothing yet). */
    active: z
        .object({ colour: z.enum(colours) })
        .nullish()
        .transform((a) => a?.colour ?? ""),
});

/** What one host serves, as it reported it ("" everywhere when it serves nothing yet). */
export type HostStatus = z.output<typeof hostStatusSchema>;

/** Why a host's line was refused; the orchestrator exits with 10 on it. */
export class HostReportError extends Error {}

/**
 * Reads one line a host printed (`what`: "status" or "release"). A line that is no JSON object of
 * the status's form, a value that does not match its pattern, or a version without its digest (or
 * the reverse: a version without its digest cannot be released back) is refused, naming the host.
 */
export function readHostLine(host: string, what: string, line: string): HostStatus {
    const shown = JSON.stringify(line.slice(0, 300));
    let json: unknown;
    try {
        json = JSON.parse(line);
    } catch {
        json = undefined;
    }
    const parsed = hostStatusSchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue.path[0];
        if (typeof field === "string" && field !== "instance" && isRecord(json) && field in json) {
            throw new HostReportError(
                `${host} reported an invalid ${field} in its ${what} line: ${JSON.stringify(json[field])}; refusing to use it`,
            );
        }
        throw new HostReportError(
            `${host} printed a malformed ${what} line; nothing more is done with it: ${shown}`,
        );
    }
    const s = parsed.data;
    if ((s.version === "") !== (s.digest === "")) {
        throw new HostReportError(
            `${host} reported a version without a digest (or the reverse) in its ${what} line: ${shown}`,
        );
    }
    return s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The orchestrator's last stdout line: the version released and what each host serves after it. */
export const releaseSummarySchema = z.object({
    version: z.string().regex(hostPatterns.version),
    digest: z.string().regex(hostPatterns.digest),
    hosts: z.record(
        z.string().regex(hostPatterns.hostName),
        z.object({
            version: z.string().regex(hostPatterns.version),
            digest: z.string().regex(hostPatterns.digest),
            /** The colour serving after the release (summaries of earlier releases have none). */
            colour: z.enum(colours).optional(),
        }),
    ),
});

/** What the orchestrator reports on its last stdout line. */
export type ReleaseSummary = z.output<typeof releaseSummarySchema>;

/** Reads the orchestrator's summary (its last line starting with "{") from its stdout, checked. */
export function parseSummary(stdout: string): ReleaseSummary {
    const line = stdout
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
    if (!line) throw new Error(`the orchestrator printed no summary: ${JSON.stringify(stdout.slice(-500))}`);
    let json: unknown;
    try {
        json = JSON.parse(line);
    } catch {
        throw new Error(`the orchestrator's summary is no JSON: ${JSON.stringify(line.slice(0, 500))}`);
    }
    const parsed = releaseSummarySchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(
            `the orchestrator's summary is malformed at ${issue.path.join(".") || "the top"}: ${issue.message}`,
        );
    }
    return parsed.data;
}
