import { createContext, useContext } from "react";

import type { Session } from "./session";

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; every page below the sign-in gate has one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside the sign-in gate");
  return session;
}

export function hasRole(session: Session, ...roles: string[]): boolean {
  return session.me.roles.some((role) => roles.includes(role));
}
