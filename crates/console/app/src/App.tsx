import { Navigate, Route, Routes } from "react-router-dom";

import { SignInGate } from "./auth/SignInGate";
import { Layout } from "./components/Layout";
import { Approvals } from "./pages/Approvals";
import { Evidence } from "./pages/Evidence";
import { ExecutionPage } from "./pages/Execution";
import { FindingPage } from "./pages/Finding";
import { FindingDiffPage } from "./pages/FindingDiff";
import { Findings } from "./pages/Findings";
import { FindingTrends } from "./pages/FindingTrends";
import { ModuleRun } from "./pages/ModuleRun";
import { Modules } from "./pages/Modules";
import { Runs } from "./pages/Runs";
import { Scanners } from "./pages/Scanners";
import { AccountPage } from "./pages/accounts/Account";
import { Accounts } from "./pages/accounts/Accounts";
import { ScanPage } from "./pages/accounts/Scan";
import { Scans } from "./pages/accounts/Scans";
import { SchedulePage } from "./pages/schedules/Schedule";
import { Schedules } from "./pages/schedules/Schedules";
import { AdminModule } from "./pages/admin/AdminModule";
import { AdminModules } from "./pages/admin/AdminModules";
import { Audit } from "./pages/admin/Audit";
import { Acceptances } from "./pages/Acceptances";
import { Scripts } from "./pages/admin/Scripts";
import { ChannelPage } from "./pages/notifications/Channel";
import { Notifications } from "./pages/notifications/Notifications";
import { NotFound } from "./pages/NotFound";

export function App() {
  return (
    <SignInGate>
      <Layout>
        <Routes>
          <Route path="/" element={<Navigate to="/modules" replace />} />
          <Route path="/modules" element={<Modules />} />
          <Route path="/modules/:id" element={<ModuleRun />} />
          <Route path="/executions" element={<Runs />} />
          <Route path="/executions/:id" element={<ExecutionPage />} />
          <Route path="/approvals" element={<Approvals />} />
          <Route path="/scanners" element={<Scanners />} />
          <Route path="/findings" element={<Findings />} />
          <Route path="/findings/trends" element={<FindingTrends />} />
          <Route path="/findings/diff" element={<FindingDiffPage />} />
          <Route path="/findings/acceptances" element={<Acceptances />} />
          <Route path="/findings/:fingerprint" element={<FindingPage />} />
          <Route path="/evidence" element={<Evidence />} />
          <Route path="/accounts" element={<Accounts />} />
          <Route path="/accounts/:id" element={<AccountPage />} />
          <Route path="/scans" element={<Scans />} />
          <Route path="/scans/:id" element={<ScanPage />} />
          <Route path="/schedules" element={<Schedules />} />
          <Route path="/schedules/:id" element={<SchedulePage />} />
          <Route path="/admin/scripts" element={<Scripts />} />
          <Route path="/admin/modules" element={<AdminModules />} />
          <Route path="/admin/modules/:id" element={<AdminModule />} />
          <Route path="/admin/audit" element={<Audit />} />
          <Route path="/admin/notifications" element={<Notifications />} />
          <Route path="/admin/notifications/channels/:id" element={<ChannelPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Layout>
    </SignInGate>
  );
}
