package server

// quotaRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) quotaRoutes() []route { return nil }
