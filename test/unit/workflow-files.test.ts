import * as pulumi from "@pulumi/pulumi";
import { strict as assert } from "assert";
import { contentHash, WorkflowFiles, WorkflowFilesArgs } from "../../components/workflows/workflow-files";
import { statusBadges } from "../../components/workflows/render";
import { renderStack } from "../../scripts/render";
import { promiseOf } from "./workflow-helpers";

const getFile = "github:index/getRepositoryFile:getRepositoryFile";
const types = {
    branch: "github:index/branch:Branch",
    file: "github:index/repositoryFile:RepositoryFile",
    pullRequest: "github:index/repositoryPullRequest:RepositoryPullRequest",
};

/** Mocks a repository whose default branch holds `onDefault`; records what is declared. */
class RepositoryMocks implements pulumi.runtime.Mocks {
    readonly resources: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    readonly reads: string[] = [];
    constructor(private readonly onDefault: Record<string, string>) {}

    newResource(args: pulumi.runtime.MockResourceArgs) {
        this.resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state = args.type === types.pullRequest ? { ...args.inputs, number: 42 } : args.inputs;
        return { id: `${args.name}-id`, state };
    }

    call(args: pulumi.runtime.MockCallArgs) {
        if (args.token !== getFile) return {};
        const file = String(args.inputs.file);
        this.reads.push(`${args.inputs.branch}:${file}`);
        if (!(file in this.onDefault)) throw new Error(`GET contents/${file}: 404 Not Found`);
        return { content: this.onDefault[file], file, repository: args.inputs.repository };
    }

    ofType(type: string) {
        return this.resources.filter((r) => r.type === type);
    }
}

interface Declared {
    type: string;
    name: string;
    resource: pulumi.Resource;
    opts: pulumi.ResourceOptions & { retainOnDelete?: boolean };
}

let counter = 0;

/** Builds the component against a mocked repository and waits for everything it declares. */
async function deliver(
    onDefault: Record<string, string>,
    files: Record<string, string>,
    extra: Partial<WorkflowFilesArgs> = {},
) {
    const mocks = new RepositoryMocks(onDefault);
    pulumi.runtime.setMocks(mocks, "cicd-pipeline", "production", false);
    const declared: Declared[] = [];
    const args: WorkflowFilesArgs = { repository: "web-app", baseBranch: "main", files, ...extra };
    const component = new WorkflowFiles(`workflows-${counter++}`, args, {
        transformations: [
            (a) => {
                declared.push({ type: a.type, name: a.name, resource: a.resource, opts: a.opts });
                return undefined;
            },
        ],
    });
    const [upToDate, branch, pullRequestNumber, changedFiles] = await Promise.all([
        promiseOf(component.upToDate),
        promiseOf(component.branch),
        promiseOf(component.pullRequestNumber),
        promiseOf(component.changedFiles),
    ]);
    const children = declared.filter((d) => d.type !== "cicd:workflows:WorkflowFiles");
    return { mocks, children, upToDate, branch, pullRequestNumber, changedFiles };
}

const files = {
    ".github/workflows/ci.yml": "name: CI\n",
    ".github/workflows/cd-staging.yml": "name: CD (staging)\n",
    ".github/workflows/cd-production.yml": "name: CD (production)\n",
};

describe("WorkflowFiles", () => {
    it("commits every file to a sync branch from the default branch and opens a pull request into it", async () => {
        const r = await deliver({}, files);
        const hash = contentHash("main", files, {});
        assert.equal(r.upToDate, false);
        assert.equal(r.branch, `pulumi/workflows-${hash}`);
        assert.equal(r.pullRequestNumber, 42);

        const [branch] = r.mocks.ofType(types.branch);
        assert.deepEqual(branch.inputs, { repository: "web-app", branch: r.branch, sourceBranch: "main" });

        const committed = r.mocks.ofType(types.file);
        assert.deepEqual(
            committed.map((f) => f.inputs.file),
            Object.keys(files).sort(),
        );
        for (const f of committed) {
            assert.equal(f.inputs.branch, r.branch);
            assert.equal(f.inputs.content, files[f.inputs.file as keyof typeof files]);
            assert.equal(f.inputs.overwriteOnCreate, true);
            assert.match(String(f.inputs.commitMessage), new RegExp(hash));
        }

        const [pr] = r.mocks.ofType(types.pullRequest);
        assert.equal(pr.inputs.baseRepository, "web-app");
        assert.equal(pr.inputs.baseRef, "main");
        assert.equal(pr.inputs.headRef, r.branch);
        assert.match(String(pr.inputs.title), new RegExp(hash));
        for (const p of Object.keys(files)) assert.ok(String(pr.inputs.body).includes(p));
    });

    it("puts the CI and CD status badges in the pull request body when the owner is known", async () => {
        const withOwner = await deliver({}, files, { owner: "acme" });
        const [pr] = withOwner.mocks.ofType(types.pullRequest);
        assert.ok(String(pr.inputs.body).includes(statusBadges("acme", "web-app")), String(pr.inputs.body));
        const without = await deliver({}, files);
        assert.doesNotMatch(String(without.mocks.ofType(types.pullRequest)[0].inputs.body), /badge\.svg/);
    });

    it("reads each file from the default branch", async () => {
        const r = await deliver({}, files);
        assert.deepEqual(
            r.mocks.reads.sort(),
            Object.keys(files)
                .map((p) => `main:${p}`)
                .sort(),
        );
    });

    it("commits one file after another, and opens the pull request after the last commit", async () => {
        const r = await deliver({}, files);
        const branch = r.children.find((d) => d.type === types.branch)!;
        const committed = r.children.filter((d) => d.type === types.file);
        const pr = r.children.find((d) => d.type === types.pullRequest)!;
        let previous = branch.resource;
        for (const f of committed) {
            assert.deepEqual(f.opts.dependsOn, [previous], `${f.name} waits for the commit before it`);
            previous = f.resource;
        }
        assert.deepEqual(pr.opts.dependsOn, [previous]);
    });

    it("keeps the branch and files when they leave the program, but closes a superseded pull request", async () => {
        const r = await deliver({}, files);
        for (const d of r.children) {
            assert.equal(d.opts.retainOnDelete ?? false, d.type !== types.pullRequest, `${d.type} ${d.name}`);
            assert.ok(d.opts.parent, `${d.name} has a parent`);
        }
    });

    it("commits only the files that differ from the default branch", async () => {
        const onDefault = {
            ".github/workflows/ci.yml": "name: CI\n",
            ".github/workflows/cd-staging.yml": "old\n",
        };
        const r = await deliver(onDefault, files);
        assert.deepEqual(r.changedFiles, [
            ".github/workflows/cd-production.yml",
            ".github/workflows/cd-staging.yml",
        ]);
        assert.deepEqual(
            r.mocks.ofType(types.file).map((f) => f.inputs.file),
            [".github/workflows/cd-production.yml", ".github/workflows/cd-staging.yml"],
        );
    });

    it("declares nothing once the default branch has every file, as after the pull request merges", async () => {
        const r = await deliver({ ...files }, files);
        assert.equal(r.upToDate, true);
        assert.equal(r.branch, undefined);
        assert.equal(r.pullRequestNumber, undefined);
        assert.deepEqual(
            r.mocks.resources.filter((x) => x.type.startsWith("github:")),
            [],
        );
    });

    it("changes nothing when run again with the same files", async () => {
        const first = await deliver({}, files);
        const second = await deliver({}, files);
        const strip = (m: RepositoryMocks) =>
            m.resources
                .filter((x) => x.type.startsWith("github:"))
                .map((x) => ({ type: x.type, name: x.name.replace(/^workflows-\d+/, ""), inputs: x.inputs }));
        assert.deepEqual(strip(second.mocks), strip(first.mocks));
    });

    it("starts a new branch and pull request when the files change, or someone edits one on the default branch", () => {
        const base = contentHash("main", files, {});
        assert.equal(contentHash("main", { ...files }, {}), base);
        assert.notEqual(
            contentHash("main", { ...files, ".github/workflows/ci.yml": "name: CI 2\n" }, {}),
            base,
        );
        assert.notEqual(contentHash("main", files, { ".github/workflows/ci.yml": "hand edit\n" }), base);
        assert.notEqual(contentHash("develop", files, {}), base);
        assert.match(base, /^[0-9a-f]{12}$/);
    });

    it("delivers exactly the rendered files of the owning stack", async () => {
        const rendered = renderStack("production");
        const r = await deliver({}, rendered);
        const committed = r.mocks.ofType(types.file);
        assert.equal(committed.length, Object.keys(rendered).length);
        assert.equal(committed.length, 7);
        for (const f of committed) assert.equal(f.inputs.content, rendered[String(f.inputs.file)]);
    });
});
