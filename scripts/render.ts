/**
 * Writes the workflow files a stack would commit, offline and without credentials, for review:
 *
 *   npm run render -- --out DIR --stack NAME
 *   npm run render -- --badges --stack NAME   # only the status badge Markdown for the README
 *   npm run render -- --reachability          # which job can read which credential (README's table)
 *   npm run golden          # rewrites test/golden/<stack>/ for every committed stack file
 */
import * as fs from "fs";
import * as path from "path";
import { committedStacks as stacksIn, parseConfig, PipelineConfig, readStackFile } from "../config";
import { DeclaredCredential, extraEnvironments, stackCredentials } from "../components/credentials";
import {
    EnvironmentRules,
    Reach,
    reachability,
    reachabilityMarkdown,
    reachabilityProblems,
} from "../components/workflows/reachability";
import { statusBadges, workflowFilesForStack } from "../components/workflows/render";

const root = path.resolve(__dirname, "..");

/** The files the stack commits (path in the app repository to content); none for a non-owning stack. */
export function renderStack(stack: string, dir = root): Record<string, string> {
    return workflowFilesForStack(parseConfig(readStackFile(stack, { dir }), { requireSecrets: false }));
}

/** The README status badges of the stack's workflows, or undefined when it commits none. */
export function stackBadges(stack: string, dir = root): string | undefined {
    const github = parseConfig(readStackFile(stack, { dir }), { requireSecrets: false }).github;
    return github?.ownsRepositoryObjects ? statusBadges(github.owner, github.repository) : undefined;
}

/** Stacks with a committed Pulumi.<stack>.yaml. */
export function committedStacks(dir = root): string[] {
    return stacksIn(dir);
}

/** Every committed stack's config, read offline (no secret values). */
function committedConfigs(dir: string): PipelineConfig[] {
    return committedStacks(dir).map((s) => parseConfig(readStackFile(s, { dir }), { requireSecrets: false }));
}

/**
 * The reachability of every credential the committed stacks declare, through the workflow files
 * they commit: the reads, the declared credentials and the environments' rules.
 */
export function committedReachability(dir = root): {
    reach: Reach[];
    credentials: DeclaredCredential[];
    environments: EnvironmentRules[];
} {
    const configs = committedConfigs(dir);
    const files = Object.assign({}, ...configs.map((c) => workflowFilesForStack(c))) as Record<
        string,
        string
    >;
    const credentials = configs.flatMap(stackCredentials);
    const environments = configs.flatMap((c): EnvironmentRules[] =>
        c.github
            ? [
                  {
                      name: c.environment.name,
                      stack: c.stack,
                      reviewers: c.environment.reviewers.users.length + c.environment.reviewers.teams.length,
                      branches: c.environment.deployFrom.branches,
                      tags: c.environment.deployFrom.tags,
                  },
                  ...extraEnvironments(c).map((e) => ({
                      name: e.name,
                      stack: c.stack,
                      reviewers: 0,
                      branches: e.branchPatterns,
                      tags: e.tagPatterns,
                  })),
              ]
            : [],
    );
    return { reach: reachability(files, credentials), credentials, environments };
}

/** Name of the manifest the golden directories carry beside the files. */
export const goldenManifest = "files.json";

function write(outDir: string, files: Record<string, string>): void {
    for (const [file, content] of Object.entries(files)) {
        const target = path.join(outDir, file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, content);
    }
}

function describe(stack: string, files: Record<string, string>): string {
    const names = Object.keys(files);
    if (names.length > 0)
        return `stack ${stack}: ${names.length} files\n${names.map((n) => `  ${n}`).join("\n")}`;
    const owner = readStackFile(stack, { dir: root }).values["cicd-pipeline:github"];
    const owning = owner
        ? (JSON.parse(owner) as { repositoryObjectsStack?: string }).repositoryObjectsStack
        : "";
    return (
        `stack ${stack}: commits no workflow files; the repository-wide objects belong to ` +
        `stack ${owning || "(none)"} (cicd-pipeline:github.repositoryObjectsStack). Nothing written.`
    );
}

function usage(message: string): never {
    console.error(
        `${message}\nusage: npm run render -- --out DIR --stack NAME\n` +
            `       npm run render -- --badges --stack NAME\n       npm run render -- --reachability\n` +
            `       npm run golden`,
    );
    process.exit(2);
}

function main(argv: string[]): void {
    if (argv.includes("--golden")) {
        for (const stack of committedStacks()) {
            const dir = path.join(root, "test", "golden", stack);
            fs.rmSync(dir, { recursive: true, force: true });
            fs.mkdirSync(dir, { recursive: true });
            const files = renderStack(stack);
            write(dir, files);
            const manifest = { stack, files: Object.keys(files).sort() };
            fs.writeFileSync(path.join(dir, goldenManifest), JSON.stringify(manifest, null, 4) + "\n");
            console.log(describe(stack, files));
        }
        return;
    }
    if (argv.includes("--reachability")) {
        const { reach, credentials, environments } = committedReachability();
        console.log(reachabilityMarkdown(reach, credentials, environments));
        const problems = reachabilityProblems(reach, credentials);
        if (problems.length > 0) {
            console.error(`\n${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
            process.exit(1);
        }
        return;
    }
    const value = (flag: string) => {
        const i = argv.indexOf(flag);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const out = value("--out");
    const stack = value("--stack");
    const badgesOnly = argv.includes("--badges");
    if (!stack || (!out && !badgesOnly)) usage("--stack and one of --out or --badges are required");
    if (!committedStacks().includes(stack)) usage(`no Pulumi.${stack}.yaml in ${root}`);
    const badges = stackBadges(stack);
    if (badgesOnly) {
        if (!badges) usage(`stack ${stack} commits no workflow files, so it has no badges`);
        console.log(badges);
        return;
    }
    const files = renderStack(stack);
    write(path.resolve(out!), files);
    console.log(describe(stack, files));
    if (badges) console.log(`\nStatus badges for the app's README:\n\n${badges}`);
}

if (require.main === module) main(process.argv.slice(2));
