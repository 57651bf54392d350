package server

// usageRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) usageRoutes() []route { return nil }
