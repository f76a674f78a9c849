import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { statusBadges } from "./render";

/** Arguments of a WorkflowFiles component. */
export interface WorkflowFilesArgs {
    /** Repository name, without the owner. */
    readonly repository: string;
    /**
     * The repository's owner. When given, the pull request body carries the status badges of the
     * CI and CD workflows to paste into the README. Default: no badges.
     */
    readonly owner?: string;
    /** The branch the pull request merges into: the repository's default branch. */
    readonly baseBranch: string;
    /** Path in the repository to file content, such as the output of renderWorkflowFiles. */
    readonly files: Readonly<Record<string, string>>;
    /** Prefix of the sync branch; a content hash completes its name. Default: "pulumi/workflows". */
    readonly branchPrefix?: string;
}

/** What the component delivered on this run. */
interface Delivery {
    readonly upToDate: boolean;
    readonly branch?: pulumi.Output<string>;
    readonly pullRequestNumber?: pulumi.Output<number>;
    readonly changedFiles: string[];
}

/**
 * A short hash naming the sync branch: of the files as rendered and as they are on the base branch,
 * so that a change to either (including a hand edit of a generated file) starts a new pull request.
 */
export function contentHash(
    baseBranch: string,
    files: Readonly<Record<string, string>>,
    current: Readonly<Record<string, string | undefined>> = {},
): string {
    const hash = createHash("sha256").update(`base ${baseBranch}\n`);
    for (const path of Object.keys(files).sort()) {
        for (const content of [files[path], current[path]]) {
            hash.update(
                content === undefined ? `${path} absent\n` : `${path} ${content.length}\n${content}\n`,
            );
        }
    }
    return hash.digest("hex").slice(0, 12);
}

/** A resource-name fragment for a file path. */
function slug(path: string): string {
    return path.replace(/^\.github\/workflows\//, "").replace(/[^A-Za-z0-9]+/g, "-");
}

/**
 * Delivers files to a repository whose default branch is protected: commits them to a sync branch
 * and opens a pull request into the default branch. The GitHub token needs the `workflow` scope
 * (or, for a GitHub App, the Workflows: write permission) to write under .github/workflows.
 *
 * - Files already identical on the default branch are not committed again; when all are, nothing is
 *   declared, so after the pull request merges a later run changes nothing (even with --refresh,
 *   and even if GitHub deleted the merged branch).
 * - The sync branch is named after a hash of the files as rendered and as on the default branch.
 *   Unchanged files leave every input as it was; changed files give a new branch and a new pull
 *   request, and the superseded pull request is closed (a no-op for one already merged).
 * - A pull request closed without merging stays closed while the files stay the same; to have it
 *   opened again, replace it: `pulumi up --target-replace <its URN>`.
 * - Commits are made one after another: GitHub's contents API answers 409 to concurrent commits on
 *   one branch.
 * - Branch and file resources are retained on delete: the branch may already be gone (deleted on
 *   merge), and GitHub answers 422 to deleting a missing branch. A superseded sync branch therefore
 *   stays until someone deletes it (the closed pull request offers the button).
 */
export class WorkflowFiles extends pulumi.ComponentResource {
    /** Whether the default branch already has every file as rendered. */
    public readonly upToDate: pulumi.Output<boolean>;
    /** The sync branch, when a pull request is needed. */
    public readonly branch: pulumi.Output<string | undefined>;
    /** The pull request's number, when one is needed. */
    public readonly pullRequestNumber: pulumi.Output<number | undefined>;
    /** Files that differ from the default branch. */
    public readonly changedFiles: pulumi.Output<string[]>;

    constructor(name: string, args: WorkflowFilesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:workflows:WorkflowFiles", name, {}, opts);
        const delivery = this.deliver(name, args);
        this.upToDate = pulumi.output(delivery.then((d) => d.upToDate));
        this.branch = pulumi.output(delivery.then((d) => d.branch));
        this.pullRequestNumber = pulumi.output(delivery.then((d) => d.pullRequestNumber));
        this.changedFiles = pulumi.output(delivery.then((d) => d.changedFiles));
        this.registerOutputs({
            upToDate: this.upToDate,
            branch: this.branch,
            pullRequestNumber: this.pullRequestNumber,
            changedFiles: this.changedFiles,
        });
    }

    /** The file's content on the default branch, or undefined when it is absent or unreadable. */
    private async current(repository: string, file: string, branch: string): Promise<string | undefined> {
        try {
            const result = await github.getRepositoryFile({ repository, file, branch }, { parent: this });
            return result.content;
        } catch (e) {
            // Treated as different: committing it again is harmless, and a real access problem
            // surfaces with a clear error when the branch or file is written.
            pulumi.log.debug(`${file} on ${branch}: not read (${String(e)})`, this);
            return undefined;
        }
    }

    private async deliver(name: string, args: WorkflowFilesArgs): Promise<Delivery> {
        const paths = Object.keys(args.files).sort();
        const current = await Promise.all(
            paths.map((p) => this.current(args.repository, p, args.baseBranch)),
        );
        const changed = paths.filter((p, i) => current[i] !== args.files[p]);
        if (changed.length === 0) return { upToDate: true, changedFiles: [] };

        const hash = contentHash(
            args.baseBranch,
            args.files,
            Object.fromEntries(paths.map((p, i) => [p, current[i]])),
        );
        const branchName = `${args.branchPrefix ?? "pulumi/workflows"}-${hash}`;
        const branch = new github.Branch(
            `${name}-branch`,
            { repository: args.repository, branch: branchName, sourceBranch: args.baseBranch },
            { parent: this, retainOnDelete: true },
        );
        let previous: pulumi.Resource = branch;
        for (const path of changed) {
            previous = new github.RepositoryFile(
                `${name}-${slug(path)}`,
                {
                    repository: args.repository,
                    branch: branch.branch,
                    file: path,
                    content: args.files[path],
                    commitMessage: `Update ${path} (pipeline ${hash})`,
                    overwriteOnCreate: true,
                },
                { parent: this, dependsOn: [previous], retainOnDelete: true },
            );
        }
        const pullRequest = new github.RepositoryPullRequest(
            `${name}-pull-request`,
            {
                baseRepository: args.repository,
                baseRef: args.baseBranch,
                headRef: branch.branch,
                title: `Update the CI/CD workflows (pipeline ${hash})`,
                body: pullRequestBody(changed, args.baseBranch, args.owner, args.repository),
                maintainerCanModify: false,
            },
            // The pull request can only be opened once the branch differs from the base.
            { parent: this, dependsOn: [previous] },
        );
        return {
            upToDate: false,
            branch: branch.branch,
            pullRequestNumber: pullRequest.number,
            changedFiles: changed,
        };
    }
}

function pullRequestBody(
    changed: string[],
    baseBranch: string,
    owner: string | undefined,
    repository: string,
): string {
    const badges = owner
        ? [
              "",
              "Status badges of the CI and CD workflows, for the README:",
              "",
              "```markdown",
              statusBadges(owner, repository),
              "```",
          ]
        : [];
    return [
        "The pipeline's Pulumi program renders these workflow files from its typed model and stack config:",
        "",
        ...changed.map((p) => `- \`${p}\``),
        "",
        `Review and merge to apply them. Workflows triggered by pushes run the files of the pushed branch, so`,
        `merge \`${baseBranch}\` into your other long-lived branches (such as develop) afterwards.`,
        "",
        "Preview the same files offline with `npm run render -- --out DIR --stack NAME`. A newer run of",
        "`pulumi up` with different files closes this pull request and opens another.",
        ...badges,
    ].join("\n");
}
