package server

// userRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) userRoutes() []route { return nil }
