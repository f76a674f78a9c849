/** ci.yml: lint and test in parallel, then build, then the security scan. */
import { buildPush, checkout, setupBuildx, trivy, uploadArtifact } from "./actions";
import { ciJobs } from "./ci-jobs";
import { pythonSetup } from "./common";
import { bashDefaults, expr, Job, RunStep, runner, Workflow } from "./model";
import { WorkflowSettings } from "./settings";

/** A named shell command of the lint or test job. */
export interface Command {
    readonly name: string;
    readonly run: string;
}

/**
 * The lint and test commands ci.yml runs, in order. Exported so that the example app's tests run
 * exactly these against it.
 */
export function pythonCommands(s: WorkflowSettings): { lint: Command[]; test: Command[] } {
    const paths = `${s.sourceDir} ${s.testDir}`;
    const cov = `--cov=${s.sourceDir} --cov-report=`;
    return {
        lint: [
            { name: "flake8", run: `python -m flake8 ${paths}` },
            { name: "black", run: `python -m black --check --diff ${paths}` },
        ],
        test: [
            { name: "Unit tests", run: `python -m pytest ${s.testDir}/unit -x ${cov}` },
            {
                name: "Integration tests",
                run: `python -m pytest ${s.testDir}/integration -x ${cov} --cov-append`,
            },
            {
                name: "Coverage report",
                run: [
                    "python -m coverage xml -o coverage.xml",
                    "python -m coverage html -d htmlcov",
                    "{",
                    '  echo "### Coverage"',
                    '  echo ""',
                    "  echo '```'",
                    "  python -m coverage report",
                    "  echo '```'",
                    '} >> "${GITHUB_STEP_SUMMARY}"',
                    "",
                ].join("\n"),
            },
            {
                name: "Coverage threshold",
                run: `python -m coverage report --fail-under=${s.coverageThreshold}`,
            },
        ],
    };
}

const gha = { "cache-from": "type=gha", "cache-to": "type=gha,mode=max" } as const;

/** The image the CI build produces; never pushed. */
function ciImage(s: WorkflowSettings): string {
    return `${s.image}:ci-${expr("github.sha")}`;
}

export function ciWorkflow(s: WorkflowSettings): Workflow {
    const { lint, test } = pythonCommands(s);
    const [unit, integration, report, threshold] = test;
    const afterTests = expr("!cancelled()");
    const reportStep: RunStep = { ...report, if: afterTests };

    const jobs: Record<string, Job> = {
        [ciJobs.lint.id]: {
            name: ciJobs.lint.name,
            "runs-on": runner,
            "timeout-minutes": 10,
            permissions: { contents: "read" },
            steps: [checkout(), ...pythonSetup(s), ...lint],
        },
        [ciJobs.test.id]: {
            name: ciJobs.test.name,
            "runs-on": runner,
            "timeout-minutes": 15,
            permissions: { contents: "read" },
            steps: [
                checkout(),
                ...pythonSetup(s),
                unit,
                integration,
                reportStep,
                uploadArtifact({
                    name: "Upload the coverage report",
                    if: afterTests,
                    with: {
                        name: "coverage",
                        path: "coverage.xml\nhtmlcov/",
                        "if-no-files-found": "warn",
                        "retention-days": 14,
                    },
                }),
                threshold,
            ],
        },
        [ciJobs.build.id]: {
            name: ciJobs.build.name,
            needs: [ciJobs.lint.id, ciJobs.test.id],
            "runs-on": runner,
            "timeout-minutes": 20,
            permissions: { contents: "read" },
            steps: [
                checkout(),
                setupBuildx({ name: "Set up Docker Buildx" }),
                buildPush({
                    name: "Build the image",
                    with: {
                        context: ".",
                        file: s.dockerfile,
                        push: false,
                        tags: ciImage(s),
                        "build-args": `APP_VERSION=${expr("github.sha")}`,
                        ...gha,
                    },
                }),
            ],
        },
        [ciJobs.securityScan.id]: {
            name: ciJobs.securityScan.name,
            needs: [ciJobs.build.id],
            "runs-on": runner,
            "timeout-minutes": 15,
            permissions: { contents: "read" },
            steps: [
                checkout(),
                trivy({
                    name: "Check dependencies for known vulnerabilities",
                    with: {
                        "scan-type": "fs",
                        "scan-ref": ".",
                        scanners: "vuln",
                        severity: "CRITICAL,HIGH",
                        "ignore-unfixed": true,
                        "exit-code": "1",
                    },
                }),
                setupBuildx({ name: "Set up Docker Buildx" }),
                // The build job's layers are in the cache, so this loads the same image in seconds.
                buildPush({
                    name: "Load the built image",
                    with: {
                        context: ".",
                        file: s.dockerfile,
                        push: false,
                        load: true,
                        tags: ciImage(s),
                        "build-args": `APP_VERSION=${expr("github.sha")}`,
                        "cache-from": "type=gha",
                    },
                }),
                trivy({
                    name: "Scan the image",
                    with: {
                        "scan-type": "image",
                        "image-ref": ciImage(s),
                        severity: "CRITICAL,HIGH",
                        "ignore-unfixed": true,
                        "exit-code": "1",
                    },
                }),
            ],
        },
    };

    return {
        name: "CI",
        on: { push: { branches: ["**"] }, pull_request: null },
        permissions: { contents: "read" },
        // A new push supersedes the running checks of the same branch or pull request.
        concurrency: {
            group: `ci-${expr("github.event.pull_request.number || github.ref")}`,
            "cancel-in-progress": true,
        },
        defaults: bashDefaults,
        jobs,
    };
}
