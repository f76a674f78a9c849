/** Helpers shared by the workflow tests. */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { parseConfig, readStackFile } from "../../config";
import { renderWorkflowFiles } from "../../components/workflows/render";
import { workflowRenderSettings, WorkflowRenderSettings } from "../../components/workflows/settings";
import { committedStacks, renderStack } from "../../scripts/render";

export const root = path.resolve(__dirname, "..", "..");

/** Resolves with an Output's value. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** The files every committed stack commits: stack name to (path to content). */
export function renderedByStack(): Record<string, Record<string, string>> {
    return Object.fromEntries(committedStacks().map((s) => [s, renderStack(s)]));
}

/** Every rendered workflow file across the committed stacks, with the stack that renders it. */
export function allRendered(): { stack: string; path: string; text: string }[] {
    return Object.entries(renderedByStack()).flatMap(([stack, files]) =>
        Object.entries(files).map(([p, text]) => ({ stack, path: p, text })),
    );
}

/** The production stack's workflow settings, with overrides. */
export function settings(overrides: Partial<WorkflowRenderSettings> = {}): WorkflowRenderSettings {
    return {
        ...workflowRenderSettings(parseConfig(readStackFile("production"), { requireSecrets: false })),
        ...overrides,
    };
}

/** Rendered files for settings, parsed. */
export function renderParsed(s: WorkflowRenderSettings = settings()): Record<string, ParsedWorkflow> {
    return Object.fromEntries(Object.entries(renderWorkflowFiles(s)).map(([p, t]) => [p, parse(t)]));
}

export interface ParsedStep {
    name: string;
    id?: string;
    if?: string;
    uses?: string;
    run?: string;
    env?: Record<string, string>;
    with?: Record<string, unknown>;
    "working-directory"?: string;
}
export interface ParsedJob {
    name: string;
    needs?: string[];
    if?: string;
    permissions?: Record<string, string>;
    environment?: { name: string; url?: string };
    concurrency?: { group: string; "cancel-in-progress": boolean };
    strategy?: { matrix: Record<string, string[]> };
    env?: Record<string, string>;
    outputs?: Record<string, string>;
    steps: ParsedStep[];
}
export interface ParsedWorkflow {
    name: string;
    on: Record<string, unknown>;
    permissions?: Record<string, string>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    jobs: Record<string, ParsedJob>;
}

export function parse(text: string): ParsedWorkflow {
    return YAML.parse(text) as ParsedWorkflow;
}

/** Every step of a workflow with its job id. */
export function steps(w: ParsedWorkflow): { job: string; step: ParsedStep }[] {
    return Object.entries(w.jobs).flatMap(([job, j]) => j.steps.map((step) => ({ job, step })));
}

/** Calls visit for every scalar string in a parsed document, with its path of keys. */
export function walkStrings(
    node: unknown,
    visit: (value: string, at: (string | number)[]) => void,
    at: (string | number)[] = [],
): void {
    if (typeof node === "string") visit(node, at);
    else if (Array.isArray(node)) node.forEach((v, i) => walkStrings(v, visit, [...at, i]));
    else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) walkStrings(v, visit, [...at, k]);
    }
}

/** Files under a directory, relative to it, sorted. */
export function listFiles(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const out: string[] = [];
    const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
            const full = path.join(d, entry.name);
            if (entry.isDirectory()) walk(full);
            else out.push(path.relative(dir, full));
        }
    };
    walk(dir);
    return out.sort();
}
