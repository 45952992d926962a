//! The words of a report, in English and Korean.

use sage_model::compliance::RequirementStatus;
pub use sage_model::evidence::Lang;

use crate::finding::{Severity, Status};

pub struct Labels {
    pub generated: &'static str,
    pub accounts: &'static str,
    pub tools: &'static str,
    pub runs: &'static str,
    pub findings: &'static str,
    pub by_tool: &'static str,
    pub by_severity: &'static str,
    pub most_failed: &'static str,
    pub findings_of: &'static str,
    pub compliance: &'static str,
    pub appendix: &'static str,
    pub tool: &'static str,
    pub total: &'static str,
    pub status: &'static str,
    pub severity: &'static str,
    pub check: &'static str,
    pub resource: &'static str,
    pub region: &'static str,
    pub remediation: &'static str,
    pub failed: &'static str,
    pub framework: &'static str,
    pub requirements: &'static str,
    pub file: &'static str,
    pub run: &'static str,
    pub none: &'static str,
    pub page: &'static str,
    pub skipped: &'static str,
    pub notes: &'static str,
    pub listed_per_check: &'static str,
    pub held_back: &'static str,
    pub listed_checks: &'static str,
    pub over_checks: &'static str,
    pub assessed: &'static str,
    pub source: &'static str,
    pub requirement: &'static str,
    pub requirement_findings: &'static str,
    pub accepted_risks: &'static str,
    pub accepted_scope: &'static str,
    pub accepted_reason: &'static str,
    pub accepted_by: &'static str,
    pub accepted_until: &'static str,
    pub documents: &'static str,
    pub document: &'static str,
    pub description: &'static str,
    pub uploaded: &'static str,
}

const EN: Labels = Labels {
    generated: "Generated",
    accounts: "Accounts",
    tools: "Tools",
    runs: "Runs covered",
    findings: "Findings",
    by_tool: "Findings by tool and status",
    by_severity: "Findings by severity and status",
    most_failed: "Most failed checks",
    findings_of: "Findings of",
    compliance: "Compliance mapping (requirements by worst status)",
    appendix: "Appendix: source artifacts",
    tool: "Tool",
    total: "Total",
    status: "Status",
    severity: "Severity",
    check: "Check",
    resource: "Resource",
    region: "Region",
    remediation: "Remediation",
    failed: "Failed",
    framework: "Framework",
    requirements: "Requirements",
    file: "File",
    run: "Run",
    none: "None",
    page: "Page",
    skipped: "Files not read",
    notes: "Notes",
    listed_per_check: "Findings listed per check, at most (the counts include every finding)",
    held_back: "more findings of this tool are counted in the summaries but not listed here",
    listed_checks: "Checks listed, at most (the counts include every check)",
    over_checks: "findings of checks beyond that cap are counted in the summaries but not listed",
    assessed: "Requirements assessed",
    source: "Mapping read from",
    requirement: "Requirement",
    requirement_findings: "Failing / accepted / passed",
    accepted_risks: "Accepted risks (each approved by a second person)",
    accepted_scope: "Scope",
    accepted_reason: "Reason",
    accepted_by: "Requested by / approved by",
    accepted_until: "Approved / expires",
    documents: "Evidence documents",
    document: "Document",
    description: "Description",
    uploaded: "Uploaded by / at",
};

const KO: Labels = Labels {
    generated: "생성 시각",
    accounts: "계정",
    tools: "도구",
    runs: "대상 실행",
    findings: "발견 항목",
    by_tool: "도구 및 상태별 발견 항목",
    by_severity: "심각도 및 상태별 발견 항목",
    most_failed: "가장 많이 실패한 점검 항목",
    findings_of: "발견 항목:",
    compliance: "컴플라이언스 매핑 (요구사항별 최저 상태)",
    appendix: "부록: 원본 아티팩트",
    tool: "도구",
    total: "합계",
    status: "상태",
    severity: "심각도",
    check: "점검 항목",
    resource: "리소스",
    region: "리전",
    remediation: "조치 방안",
    failed: "실패",
    framework: "프레임워크",
    requirements: "요구사항",
    file: "파일",
    run: "실행",
    none: "없음",
    page: "페이지",
    skipped: "읽지 않은 파일",
    notes: "참고",
    listed_per_check: "검사별 표시 발견 항목 최대 개수 (집계에는 모든 항목 포함)",
    held_back: "개의 추가 발견 항목은 요약 집계에 포함되었으나 여기에는 표시되지 않았습니다",
    listed_checks: "표시 검사 최대 개수 (집계에는 모든 검사 포함)",
    over_checks: "개의 발견 항목은 검사 개수 상한을 넘어 요약 집계에만 포함되었습니다",
    assessed: "요구사항 평가",
    source: "매핑 출처",
    requirement: "요구사항",
    requirement_findings: "실패 / 수용 / 통과",
    accepted_risks: "수용된 위험 (각각 다른 사람이 승인)",
    accepted_scope: "대상",
    accepted_reason: "사유",
    accepted_by: "요청자 / 승인자",
    accepted_until: "승인일 / 만료일",
    documents: "증적 문서",
    document: "문서",
    description: "설명",
    uploaded: "등록자 / 등록 시각",
};

/// A report's words in its language.
pub trait Words {
    fn labels(self) -> &'static Labels;
    fn status(self, status: Status) -> &'static str;
    fn severity(self, severity: Severity) -> &'static str;
    fn requirement_status(self, status: RequirementStatus) -> &'static str;
}

impl Words for Lang {
    fn labels(self) -> &'static Labels {
        match self {
            Self::En => &EN,
            Self::Ko => &KO,
        }
    }

    fn status(self, status: Status) -> &'static str {
        match (self, status) {
            (Self::En, s) => s.as_str(),
            (Self::Ko, Status::Pass) => "통과",
            (Self::Ko, Status::Fail) => "실패",
            (Self::Ko, Status::Manual) => "수동 확인",
            (Self::Ko, Status::Muted) => "예외 처리",
            (Self::Ko, Status::Error) => "오류",
            (Self::Ko, Status::NotEvaluated) => "미평가",
            (Self::Ko, Status::Info) => "정보",
            (Self::Ko, Status::Warning) => "경고",
            (Self::Ko, Status::Skipped) => "건너뜀",
        }
    }

    fn requirement_status(self, status: RequirementStatus) -> &'static str {
        match (self, status) {
            (Self::En, RequirementStatus::Fail) => "Fail",
            (Self::En, RequirementStatus::Accepted) => "Risk accepted",
            (Self::En, RequirementStatus::Pass) => "Pass",
            (Self::En, RequirementStatus::Manual) => "Manual (documents)",
            (Self::En, RequirementStatus::NotAssessed) => "Not assessed",
            (Self::En, RequirementStatus::NotApplicable) => "Not applicable",
            (Self::Ko, RequirementStatus::Fail) => "미충족",
            (Self::Ko, RequirementStatus::Accepted) => "위험 수용",
            (Self::Ko, RequirementStatus::Pass) => "충족",
            (Self::Ko, RequirementStatus::Manual) => "수동 (증적 문서)",
            (Self::Ko, RequirementStatus::NotAssessed) => "미평가",
            (Self::Ko, RequirementStatus::NotApplicable) => "해당 없음",
        }
    }

    fn severity(self, severity: Severity) -> &'static str {
        match (self, severity) {
            (Self::En, s) => s.as_str(),
            (Self::Ko, Severity::Critical) => "치명",
            (Self::Ko, Severity::High) => "높음",
            (Self::Ko, Severity::Medium) => "중간",
            (Self::Ko, Severity::Low) => "낮음",
            (Self::Ko, Severity::Informational) => "정보",
            (Self::Ko, Severity::Unknown) => "미지정",
        }
    }
}
