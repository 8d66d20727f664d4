"""Metadata API over SOAP: deploy, checkDeployStatus, deployRecentValidation, cancelDeploy,
retrieve, checkRetrieveStatus and listMetadata, with the WSDL's element order.

A deploy answers at once (AsyncResult, state Queued) and runs in a background thread; deploys run
one at a time, as an org queues them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from lxml import etree

from sfsync.local_org import metadata_files
from sfsync.local_org.deployer import MD_NS, Deployer, Message, Plan, apply_plan
from sfsync.local_org.messages import Request, Response
from sfsync.local_org.oauth import SessionRegistry
from sfsync.local_org.org import LocalOrg

logger = logging.getLogger(__name__)

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_S = "{%s}" % SOAP_NS
_M = "{%s}" % MD_NS


class SoapFault(Exception):
    def __init__(self, code: str, message: str, exception_code: str | None = None):
        self.code, self.message, self.exception_code = code, message, exception_code
        super().__init__(message)


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _xbool(v: bool) -> str:
    return "true" if v else "false"


@dataclass
class DeployJob:
    id: str
    check_only: bool
    ignore_warnings: bool
    rollback_on_error: bool
    created: dt.datetime
    created_by: str
    created_by_name: str
    status: str = "Pending"
    started: dt.datetime | None = None
    completed: dt.datetime | None = None
    plan: Plan | None = None
    state_detail: str | None = None
    error_message: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    zip_bytes: bytes | None = None  # kept for a later deployRecentValidation of a check-only job
    cancel_requested: bool = False
    quick_deployed: bool = False  # a validation can be quick-deployed once

    @property
    def done(self) -> bool:
        return self.status in ("Succeeded", "Failed", "Canceled", "SucceededPartial")


def _envelope(body_child: etree._Element) -> Response:
    env = etree.Element(_S + "Envelope", nsmap={"soapenv": SOAP_NS, None: MD_NS, "xsi": XSI_NS})
    etree.SubElement(env, _S + "Body").append(body_child)
    return Response.xml(200, etree.tostring(env, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def fault_response(fault: SoapFault) -> Response:
    env = etree.Element(_S + "Envelope", nsmap={"soapenv": SOAP_NS, "sf": MD_NS, "xsi": XSI_NS})
    f = etree.SubElement(etree.SubElement(env, _S + "Body"), _S + "Fault")
    etree.SubElement(f, "faultcode").text = fault.code
    etree.SubElement(f, "faultstring").text = fault.message
    if fault.exception_code:
        detail = etree.SubElement(f, "detail")
        uf = etree.SubElement(detail, _M + "UnexpectedErrorFault")
        uf.set("{%s}type" % XSI_NS, "sf:UnexpectedErrorFault")
        etree.SubElement(uf, _M + "exceptionCode").text = fault.exception_code
        etree.SubElement(uf, _M + "exceptionMessage").text = fault.message.split(": ", 1)[-1]
    return Response.xml(500, etree.tostring(env, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def _sub(parent: etree._Element, name: str, text=None) -> etree._Element:
    el = etree.SubElement(parent, _M + name)
    if text is not None:
        el.text = text if isinstance(text, str) else str(text)
    return el


class MetadataApi:
    def __init__(self, org: LocalOrg, sessions: SessionRegistry):
        self.org = org
        self.sessions = sessions
        self._jobs: dict[str, DeployJob] = {}
        self._jobs_lock = threading.Lock()
        self._deploy_lock = threading.Lock()  # one deploy at a time
        self._threads: list[threading.Thread] = []
        self._retrieves: dict[str, tuple] = {}  # retrieve id -> (zip, file properties, messages)

    def handle(self, req: Request) -> Response:
        try:
            return self._handle(req)
        except SoapFault as fault:
            return fault_response(fault)

    def _handle(self, req: Request) -> Response:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        try:
            env = etree.fromstring(req.body, parser)
        except etree.XMLSyntaxError as exc:
            raise SoapFault("soapenv:Client", f"Could not parse the SOAP request: {exc.msg}") from None
        session_id = env.findtext(f"{_S}Header/{_M}SessionHeader/{_M}sessionId")
        if self.sessions.user_for((session_id or "").strip()) is None:
            raise SoapFault(
                "sf:INVALID_SESSION_ID", "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session",
                "INVALID_SESSION_ID",
            )
        body = env.find(_S + "Body")
        op = body[0] if body is not None and len(body) else None
        if op is None:
            raise SoapFault("soapenv:Client", "No operation in the SOAP body")
        name = etree.QName(op)
        if name.namespace == MD_NS and name.localname == "deploy":
            return self.deploy(op)
        if name.namespace == MD_NS and name.localname == "checkDeployStatus":
            return self.check_deploy_status(op)
        extra = {"deployRecentValidation": self.deploy_recent_validation, "cancelDeploy": self.cancel_deploy,
                 "retrieve": self.retrieve, "checkRetrieveStatus": self.check_retrieve_status,
                 "listMetadata": self.list_metadata}
        if name.namespace == MD_NS and name.localname in extra:
            return extra[name.localname](op)
        raise SoapFault("soapenv:Client", f"No operation available for request {{{name.namespace}}}{name.localname}")

    # -- deploy ------------------------------------------------------------------------------
    def deploy(self, op: etree._Element) -> Response:
        raw = (op.findtext(_M + "ZipFile") or "").strip()
        try:
            zip_bytes = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError):
            raise SoapFault("soapenv:Client", "ZipFile is not valid base64") from None
        options = op.find(_M + "DeployOptions")

        def opt(name: str) -> bool:
            return (options.findtext(_M + name) if options is not None else "false").strip().lower() == "true"

        with self.org.store.transaction() as tx:
            job_id = self.org.store.next_id(tx, "0Af")
        creds = self.org.credentials
        job = DeployJob(
            id=job_id, check_only=opt("checkOnly"), ignore_warnings=opt("ignoreWarnings"),
            created=dt.datetime.now(dt.timezone.utc),
            rollback_on_error=True,  # deploys here are always all or nothing
            created_by=creds.user_id, created_by_name="Local Admin",
        )
        self._start(job, zip_bytes)
        resp = etree.Element(_M + "deployResponse")
        result = _sub(resp, "result")
        _sub(result, "done", "false")
        _sub(result, "id", job_id)
        _sub(result, "state", "Queued")
        return _envelope(resp)

    def _start(self, job: DeployJob, zip_bytes: bytes) -> None:
        if job.check_only:
            job.zip_bytes = zip_bytes
        with self._jobs_lock:
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, zip_bytes), name=f"deploy-{job.id}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, job: DeployJob, zip_bytes: bytes) -> None:
        with self._deploy_lock:
            with job.lock:
                if job.cancel_requested:  # canceled while queued
                    job.status, job.completed = "Canceled", dt.datetime.now(dt.timezone.utc)
                    return
                job.status = "InProgress"
                job.started = dt.datetime.now(dt.timezone.utc)
            try:
                plan = Deployer(self.org.catalog).plan(zip_bytes)
                ok = plan.error_message is None and not plan.failures
                with job.lock:
                    canceled = job.cancel_requested
                if canceled:
                    with job.lock:
                        job.plan, job.status = plan, "Canceled"
                        job.completed = dt.datetime.now(dt.timezone.utc)
                    return
                if ok and not job.check_only:
                    self.org.publish_catalog(apply_plan(self.org, plan))
                if ok:
                    plan.messages.extend(self._apply_files(zip_bytes, job.check_only))
                status = "Succeeded" if ok else "Failed"
                error_message = plan.error_message
            except Exception:
                logger.exception("deploy %s failed unexpectedly", job.id)
                plan, status, error_message = None, "Failed", "An unexpected error occurred during the deploy"
            with job.lock:
                job.plan = plan
                job.error_message = error_message
                job.status = status
                job.completed = dt.datetime.now(dt.timezone.utc)
            self._persist(job)
            self.org.store.release()
            logger.info("deploy %s %s", job.id, status)

    def _persist(self, job: DeployJob) -> None:
        with job.lock:
            result = etree.Element(_M + "result")
            self._deploy_result(result, job, True)
            completed_ms = int((job.completed or job.created).timestamp() * 1000)
            stored = metadata_files.StoredJob(job.id, job.check_only, job.status, completed_ms, job.zip_bytes,
                                              job.quick_deployed, etree.tostring(result, encoding="UTF-8"))
        try:
            metadata_files.save_job(self.org.store, stored)
        except Exception:  # the answer in memory still holds; only a later process would miss it
            logger.exception("deploy %s: cannot keep the job for later commands", job.id)

    def _apply_files(self, zip_bytes: bytes, check_only: bool) -> list[Message]:
        """Keep the deployed files for retrieve, then the destructive changes (pre and post both
        after the deploy: the local org has no dependencies that would need the order)."""
        files = metadata_files.zip_files(zip_bytes)
        members = [(name, m) for name in metadata_files.MANIFESTS[1:]
                   for m in metadata_files.destructive_members(files, name)]
        if check_only:
            return [Message(t, name, m, True, deleted=True) for name, (t, m) in members]
        now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
        metadata_files.save_files(self.org.store, files, now_ms)
        messages: list[Message] = []
        for name, member in members:
            messages.extend(metadata_files.delete_components(self.org, [member], name, now_ms))
        return messages

    # -- deployRecentValidation, cancelDeploy -------------------------------------------------
    def _job(self, job_id: str) -> DeployJob | None:
        with self._jobs_lock:
            return self._jobs.get(job_id) or next(
                (j for k, j in self._jobs.items() if len(job_id) == 15 and k[:15] == job_id), None)

    def deploy_recent_validation(self, op: etree._Element) -> Response:
        validation_id = (op.findtext(_M + "validationId") or "").strip()
        job = self._job(validation_id)
        now = dt.datetime.now(dt.timezone.utc)
        if job is None:
            stored = metadata_files.load_job(self.org.store, validation_id)
            if stored is not None:
                job = DeployJob(id=stored.id, check_only=stored.check_only, ignore_warnings=False, rollback_on_error=True,
                                created=now, created_by="", created_by_name="", status=stored.status,
                                completed=dt.datetime.fromtimestamp(stored.completed_ms / 1000, dt.timezone.utc),
                                zip_bytes=stored.zip_bytes, quick_deployed=stored.quick_deployed)
        if job is None or not job.check_only or job.status != "Succeeded" or job.zip_bytes is None:
            raise SoapFault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: No successful validation found for this ID",
                            "INVALID_ID_FIELD")
        if job.quick_deployed or (job.completed and now - job.completed > dt.timedelta(days=10)):
            raise SoapFault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: This validation can no longer be deployed",
                            "INVALID_ID_FIELD")
        job.quick_deployed = True
        metadata_files.mark_quick_deployed(self.org.store, job.id)
        with self.org.store.transaction() as tx:
            new_id = self.org.store.next_id(tx, "0Af")
        creds = self.org.credentials
        quick = DeployJob(id=new_id, check_only=False, ignore_warnings=job.ignore_warnings, created=now,
                          rollback_on_error=True, created_by=creds.user_id, created_by_name="Local Admin")
        self._start(quick, job.zip_bytes)
        resp = etree.Element(_M + "deployRecentValidationResponse")
        _sub(resp, "result", new_id)
        return _envelope(resp)

    def cancel_deploy(self, op: etree._Element) -> Response:
        job_id = (op.findtext(_M + "String") or "").strip()
        job = self._job(job_id)
        if job is None:
            if metadata_files.load_job(self.org.store, job_id) is not None:
                raise SoapFault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Deployment already completed",
                                "INVALID_ID_FIELD")
            raise SoapFault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: invalid deploy id", "INVALID_ID_FIELD")
        with job.lock:
            if job.done:
                raise SoapFault("sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: Deployment already completed",
                                "INVALID_ID_FIELD")
            job.cancel_requested = True
            if job.status == "Pending":
                job.status, job.completed = "Canceled", dt.datetime.now(dt.timezone.utc)
            else:
                job.status = "Canceling"
            done = job.status == "Canceled"
        resp = etree.Element(_M + "cancelDeployResponse")
        result = _sub(resp, "result")
        _sub(result, "done", _xbool(done))
        _sub(result, "id", job.id)
        return _envelope(resp)

    # -- retrieve, checkRetrieveStatus, listMetadata ---------------------------------------------
    def retrieve(self, op: etree._Element) -> Response:
        request = op.find(_M + "retrieveRequest")
        if request is None:
            raise SoapFault("soapenv:Client", "retrieve needs a retrieveRequest")
        single = (request.findtext(_M + "singlePackage") or "false").strip().lower() == "true"
        package = request.find(_M + "unpackaged")
        requested = []
        if package is not None:
            for types in package.findall(_M + "types"):
                type_name = (types.findtext(_M + "name") or "").strip()
                requested.extend((type_name, (m.text or "").strip()) for m in types.findall(_M + "members"))
            package.tag = _M + "Package"
            manifest = etree.tostring(package, xml_declaration=True, encoding="UTF-8")
        else:
            manifest = metadata_files.empty_package(request.findtext(_M + "apiVersion") or "66.0")
        zip_bytes, props, messages = metadata_files.retrieve_zip(self.org.store, requested, manifest,
                                                                 "" if single else "unpackaged")
        with self.org.store.transaction() as tx:
            job_id = self.org.store.next_id(tx, "09S")
        with self._jobs_lock:
            self._retrieves[job_id] = (zip_bytes, props, messages)
        resp = etree.Element(_M + "retrieveResponse")
        result = _sub(resp, "result")
        _sub(result, "done", "false")
        _sub(result, "id", job_id)
        _sub(result, "state", "Queued")
        return _envelope(resp)

    def check_retrieve_status(self, op: etree._Element) -> Response:
        job_id = (op.findtext(_M + "asyncProcessId") or "").strip()
        include_zip = (op.findtext(_M + "includeZip") or "true").strip().lower() == "true"
        with self._jobs_lock:
            found = self._retrieves.get(job_id)
        if found is None:
            raise SoapFault("sf:INVALID_CROSS_REFERENCE_KEY", "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id",
                            "INVALID_CROSS_REFERENCE_KEY")
        zip_bytes, props, messages = found
        creds = self.org.credentials
        resp = etree.Element(_M + "checkRetrieveStatusResponse")
        r = _sub(resp, "result")
        _sub(r, "done", "true")
        for p in props:
            metadata_files.file_properties_xml(r, "fileProperties", p, creds.user_id, "Local Admin")
        _sub(r, "id", job_id)
        for file_name, problem in messages:
            m = _sub(r, "messages")
            _sub(m, "fileName", file_name)
            _sub(m, "problem", problem)
        _sub(r, "status", "Succeeded")
        _sub(r, "success", "true")
        _sub(r, "zipFile", base64.b64encode(zip_bytes).decode("ascii") if include_zip else None)
        return _envelope(resp)

    def list_metadata(self, op: etree._Element) -> Response:
        types = [(q.findtext(_M + "type") or "").strip() for q in op.findall(_M + "queries")]
        if len(types) > 3:
            raise SoapFault("sf:INVALID_TYPE", "INVALID_TYPE: listMetadata takes at most 3 queries", "INVALID_TYPE")
        creds = self.org.credentials
        resp = etree.Element(_M + "listMetadataResponse")
        for p in metadata_files.list_components(self.org, types):
            metadata_files.file_properties_xml(resp, "result", p, creds.user_id, "Local Admin")
        return _envelope(resp)

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait for running deploys (used on shutdown so no thread writes a closed database)."""
        for t in list(self._threads):
            t.join(timeout)

    # -- checkDeployStatus -------------------------------------------------------------------
    def check_deploy_status(self, op: etree._Element) -> Response:
        job_id = (op.findtext(_M + "asyncProcessId") or "").strip()
        include = (op.findtext(_M + "includeDetails") or "false").strip().lower() == "true"
        with self._jobs_lock:
            job = self._jobs.get(job_id) or next((j for k, j in self._jobs.items() if k[:15] == job_id[:15] and len(job_id) == 15), None)
        if job is None:
            stored = metadata_files.load_job(self.org.store, job_id)
            if stored is not None:  # finished before this server started
                resp = etree.Element(_M + "checkDeployStatusResponse")
                resp.append(etree.fromstring(stored.result_xml))
                return _envelope(resp)
            raise SoapFault("sf:INVALID_CROSS_REFERENCE_KEY", "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id",
                            "INVALID_CROSS_REFERENCE_KEY")
        with job.lock:
            resp = etree.Element(_M + "checkDeployStatusResponse")
            self._deploy_result(_sub(resp, "result"), job, include)
        return _envelope(resp)

    def _deploy_result(self, r: etree._Element, job: DeployJob, include: bool) -> None:
        plan = job.plan
        components = plan.component_messages if plan else []
        # A broken package.xml is an error too, though it is not a component.
        failures = [m for m in (plan.messages if plan else []) if not m.success]
        successes = [m for m in components if m.success]
        _sub(r, "checkOnly", _xbool(job.check_only))
        if job.completed:
            _sub(r, "completedDate", _iso(job.completed))
        _sub(r, "createdBy", job.created_by[:15])
        _sub(r, "createdByName", job.created_by_name)
        _sub(r, "createdDate", _iso(job.created))
        details = _sub(r, "details")
        if include and plan:
            for m in (x for x in plan.messages if not x.success):
                self._message(_sub(details, "componentFailures"), m, job)
            for m in (x for x in plan.messages if x.success):
                self._message(_sub(details, "componentSuccesses"), m, job)
        if include and job.done:
            rtr = _sub(details, "runTestResult")
            _sub(rtr, "numFailures", "0")
            _sub(rtr, "numTestsRun", "0")
            _sub(rtr, "totalTime", "0.0")
        _sub(r, "done", _xbool(job.done))
        if job.error_message:
            _sub(r, "errorMessage", job.error_message)
        _sub(r, "id", job.id)
        _sub(r, "ignoreWarnings", _xbool(job.ignore_warnings))
        _sub(r, "lastModifiedDate", _iso(job.completed or job.started or job.created))
        _sub(r, "numberComponentErrors", len(failures))
        _sub(r, "numberComponentsDeployed", len(successes) if job.done else 0)
        _sub(r, "numberComponentsTotal", len(components))
        _sub(r, "numberTestErrors", "0")
        _sub(r, "numberTestsCompleted", "0")
        _sub(r, "numberTestsTotal", "0")
        _sub(r, "rollbackOnError", _xbool(job.rollback_on_error))
        _sub(r, "runTestsEnabled", "false")
        if job.started:
            _sub(r, "startDate", _iso(job.started))
        if job.state_detail:
            _sub(r, "stateDetail", job.state_detail)
        _sub(r, "status", job.status)
        _sub(r, "success", _xbool(job.status == "Succeeded"))

    @staticmethod
    def _message(el: etree._Element, m: Message, job: DeployJob) -> None:
        _sub(el, "changed", _xbool(m.changed))
        if m.column is not None:
            _sub(el, "columnNumber", m.column)
        _sub(el, "componentType", m.component_type)
        _sub(el, "created", _xbool(m.created))
        _sub(el, "createdDate", _iso(job.completed or job.created))
        _sub(el, "deleted", _xbool(m.deleted))
        _sub(el, "fileName", m.file_name)
        _sub(el, "fullName", m.full_name)
        if m.line is not None:
            _sub(el, "lineNumber", m.line)
        if m.problem is not None:
            _sub(el, "problem", m.problem)
            _sub(el, "problemType", m.problem_type or "Error")
        _sub(el, "success", _xbool(m.success))
