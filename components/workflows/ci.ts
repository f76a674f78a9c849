/** ci.yml: lint and test in parallel, then build, then the security scan. */
import { buildPush, checkout, setupBuildx, trivy, uploadArtifact } from "./actions";
import { ciJobs } from "./ci-jobs";
import { pythonSetup } from "./common";
import { pythonHeredoc, scriptText } from "./scripts";
import { bashDefaults, expr, Job, RunStep, runner, UsesStep, Workflow } from "./model";
import { WorkflowRenderSettings } from "./settings";

/** A named shell command of the lint or test job. */
export interface Command {
    readonly name: string;
    readonly run: string;
}

/**
 * The lint and test commands ci.yml runs, in order. Exported so that the example app's tests run
 * exactly these against it.
 */
export function pythonCommands(s: WorkflowRenderSettings): { lint: Command[]; test: Command[] } {
    const paths = `${s.sourceDir} ${s.testDir}`;
    const cov = `--cov=${s.sourceDir} --cov-report=`;
    const junit = (suite: string) => `--junitxml=${testResultsDir}/${suite}.xml`;
    return {
        lint: [
            { name: "flake8", run: `python -m flake8 ${paths}` },
            { name: "black", run: `python -m black --check --diff ${paths}` },
        ],
        test: [
            { name: "Unit tests", run: `python -m pytest ${s.testDir}/unit -x ${cov} ${junit("unit")}` },
            {
                name: "Integration tests",
                run: `python -m pytest ${s.testDir}/integration -x ${cov} --cov-append ${junit("integration")}`,
            },
            { name: "Test results", run: testResultsSummary },
            {
                name: "Coverage report",
                run: scriptText("coverage-report.sh"),
            },
            {
                name: "Coverage threshold",
                run: `python -m coverage report --fail-under=${s.coverageThreshold}`,
            },
        ],
    };
}

/** Where pytest writes its JUnit XML reports, one file per test suite. */
export const testResultsDir = "test-results";

/**
 * Summarises the JUnit XML reports in the job summary: counts per suite and the failed tests. A
 * suite whose report is missing (it never ran) says so.
 */
const testResultsSummary = pythonHeredoc(
    `python - ${testResultsDir}/unit.xml ${testResultsDir}/integration.xml >>"\${GITHUB_STEP_SUMMARY}"`,
    "test-results.py",
);

/** The image the CI build produces; never pushed. */
function ciImage(s: WorkflowRenderSettings): string {
    return `${s.image}:ci-${expr("github.sha")}`;
}

/**
 * Builds the CI image without pushing it: the build job fills GitHub's layer cache, and the scan
 * job loads the same image from it into Docker.
 */
function ciBuild(s: WorkflowRenderSettings, o: { name: string; load: boolean }): UsesStep {
    return buildPush({
        name: o.name,
        with: {
            context: ".",
            file: s.dockerfile,
            push: false,
            ...(o.load ? { load: true } : {}),
            tags: ciImage(s),
            "build-args": `APP_VERSION=${expr("github.sha")}`,
            "cache-from": "type=gha",
            ...(o.load ? {} : { "cache-to": "type=gha,mode=max" }),
        },
    });
}

export function ciWorkflow(s: WorkflowRenderSettings): Workflow {
    const { lint, test } = pythonCommands(s);
    const afterTests = expr("!cancelled()");
    const command = (name: string): RunStep => test.find((c) => c.name === name)!;
    const afterwards = (name: string): RunStep => ({ ...command(name), if: afterTests });

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
                command("Unit tests"),
                command("Integration tests"),
                afterwards("Test results"),
                uploadArtifact({
                    name: "Upload the test results",
                    if: afterTests,
                    with: {
                        name: "test-results",
                        path: `${testResultsDir}/`,
                        "if-no-files-found": "warn",
                        "retention-days": 14,
                    },
                }),
                afterwards("Coverage report"),
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
                command("Coverage threshold"),
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
                ciBuild(s, { name: "Build the image", load: false }),
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
                ciBuild(s, { name: "Load the built image", load: true }),
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
