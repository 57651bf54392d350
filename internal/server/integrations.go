package server

// integrationRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) integrationRoutes() []route { return nil }
