package server

// environmentRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) environmentRoutes() []route { return nil }
